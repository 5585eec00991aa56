// Name checks for calls that name a run or a worker only by id (ExtendRunLease,
// CompleteRun, GetRun, Heartbeat, GetWorker, ...). The call guard checks their role on the
// gRPC thread; which workflow or queue they touch is known only to the store, so the
// services make this check on the executor, before the call's work. The token's name
// patterns must allow the run's workflow or the worker's queue (a worker without a queue
// needs `*`).
//
// The name is resolved through the store rather than carried in the receipt: receipts
// are not signed by the daemon (their lease token is checked inside the store's write), and
// worker and read calls carry no receipt at all. A token whose patterns include `*`
// allows every name, so the common case costs no read.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "storage/store.h"

namespace pgqrs::server {

class Authorizer;  // auth.h

class OwnerCheck {
 public:
  // `authorizer` is null when authentication is off (every check passes); both must
  // outlive this object.
  OwnerCheck(Authorizer* authorizer, storage::Store& store)
      : authorizer_(authorizer), store_(store) {}

  // Before a call about run `run_id`: reads the run when the token needs its workflow.
  absl::Status Run(const grpc::ServerContextBase& context, int64_t run_id);
  // For a call that has read `run` already.
  absl::Status Run(const grpc::ServerContextBase& context, const storage::RunInfo& run);

  // The same for workers and their queue.
  absl::Status Worker(const grpc::ServerContextBase& context, int64_t worker_id);
  absl::Status Worker(const grpc::ServerContextBase& context, const storage::WorkerInfo& worker);

 private:
  Authorizer* const authorizer_;
  storage::Store& store_;
};

}  // namespace pgqrs::server
