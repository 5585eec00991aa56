// What every service needs, and the way every unary call runs: validated on the gRPC
// thread where that is cheap, then storage work on the executor, which finishes the call.
#pragma once

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <functional>
#include <optional>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/config.h"
#include "server/executor.h"
#include "server/owner_check.h"
#include "server/waiters.h"
#include "storage/store.h"

namespace pgqrs::server {

struct ServiceDeps {
  storage::Store& store;
  Executor& executor;
  WaiterRegistry& waiters;
  const Config& config;
  OwnerCheck& owners;
};

inline constexpr char kOverloaded[] = "server overloaded: too many calls waiting for storage";

// The client's deadline for the call (absl::InfiniteFuture() when it set none).
absl::Time ClientDeadline(const grpc::CallbackServerContext& context);

// The status to answer instead of doing a call's work when its caller is gone: CANCELLED
// when it cancelled, DEADLINE_EXCEEDED when its deadline passed; nothing when it waits.
std::optional<grpc::Status> CallerGone(bool cancelled, absl::Time client_deadline);

// A unary call that notices its cancellation, so work still queued can be skipped. The
// service creates it; whoever runs its work finishes it once; it deletes itself when gRPC
// is done with it.
class UnaryCall final : public grpc::ServerUnaryReactor {
 public:
  explicit UnaryCall(const grpc::CallbackServerContext& context)
      : client_deadline_(ClientDeadline(context)) {}

  // What to answer instead of doing the call's work when its caller is gone (CallerGone).
  std::optional<grpc::Status> Gone() const { return CallerGone(cancelled_, client_deadline_); }
  void OnCancel() override { cancelled_ = true; }
  void OnDone() override { delete this; }
  // Both reactions are trivial: gRPC may run them on the thread that saw the call end
  // instead of waking its executor thread for them (one hop fewer per call).
  bool InternalInlineable() override { return true; }

 private:
  const absl::Time client_deadline_;
  std::atomic<bool> cancelled_{false};
};

// Runs `handler` on the executor and finishes the call with its status; answers
// RESOURCE_EXHAUSTED at once when the executor's queue is full. A call whose caller
// cancelled or whose deadline passed while it waited for the executor is not run.
grpc::ServerUnaryReactor* RunUnary(grpc::CallbackServerContext* context, Executor& executor,
                                   std::function<absl::Status()> handler);

// Finishes the call at once with `status` (bad input found on the gRPC thread).
grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                    const absl::Status& status);

// Checks one message of a stream against the caller's token (CallGuard::CheckStreamMessage);
// streams call it on each message that names a queue.
using MessageCheck = std::function<absl::Status(const google::protobuf::Message&)>;

// A stream refused before it started: finishes at once with `status`.
template <typename Request, typename Response>
class RefusedStream final : public grpc::ServerBidiReactor<Request, Response> {
 public:
  explicit RefusedStream(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace pgqrs::server
