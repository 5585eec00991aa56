#include "server/call.h"

#include "server/status.h"

namespace pgqrs::server {

absl::Time ClientDeadline(const grpc::CallbackServerContext& context) {
  std::chrono::system_clock::time_point deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

std::optional<grpc::Status> CallerGone(bool cancelled, absl::Time client_deadline) {
  if (cancelled) return grpc::Status::CANCELLED;
  if (absl::Now() >= client_deadline) {
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "deadline passed before the call ran");
  }
  return std::nullopt;
}

grpc::ServerUnaryReactor* RunUnary(grpc::CallbackServerContext* context, Executor& executor,
                                   std::function<absl::Status()> handler) {
  auto* call = new UnaryCall(*context);
  bool accepted = executor.Submit([call, handler = std::move(handler)] {
    std::optional<grpc::Status> gone = call->Gone();
    call->Finish(gone ? *gone : ToGrpcStatus(handler()));
  });
  if (!accepted) call->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, kOverloaded));
  return call;
}

grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                    const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace pgqrs::server
