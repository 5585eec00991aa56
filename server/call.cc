#include "server/call.h"

#include "server/status.h"

namespace pgqrs::server {

grpc::ServerUnaryReactor* RunUnary(grpc::CallbackServerContext* context, Executor& executor,
                                   std::function<absl::Status()> handler) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  bool accepted = executor.Submit([reactor, handler = std::move(handler)] {
    reactor->Finish(ToGrpcStatus(handler()));
  });
  if (!accepted) reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, kOverloaded));
  return reactor;
}

grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                 const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace pgqrs::server
