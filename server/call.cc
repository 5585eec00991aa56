#include "server/call.h"

#include <atomic>

#include "server/status.h"

namespace pgqrs::server {
namespace {

// A unary call that notices its cancellation, so work still queued can be skipped.
class UnaryCall final : public grpc::ServerUnaryReactor {
 public:
  explicit UnaryCall(absl::Time client_deadline) : client_deadline_(client_deadline) {}

  std::optional<grpc::Status> Gone() const { return CallerGone(cancelled_, client_deadline_); }
  void OnCancel() override { cancelled_ = true; }
  void OnDone() override { delete this; }

 private:
  const absl::Time client_deadline_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace

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
  auto* call = new UnaryCall(ClientDeadline(*context));
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
