// Calls that wait without a thread: Dequeue and ClaimRun with wait_ms > 0, and WaitRun.
// A reactor tries its call and, when it found nothing to answer yet, parks on the
// WaiterRegistry under a key (a queue name, or "run:<id>") until a Notify of that key,
// the reaper, its deadline, cancellation or shutdown wakes it to try again.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/pgqrs/v1/queue.pb.h"
#include "server/call.h"
#include "storage/types.h"

namespace pgqrs::server {

// One try of a parked call, run on the executor. It fills the call's response and
// returns true when the call is answered; false parks the call again. At the deadline,
// on cancellation and at shutdown the call answers OK with the response as last filled.
// An error answers the call with it.
using ParkedAttempt = std::function<absl::StatusOr<bool>()>;

// Starts a parked call on `key`. The returned reactor deletes itself when gRPC is done
// with it. `attempt` and whatever it captures must outlive the call.
grpc::ServerUnaryReactor* StartParkedCall(ServiceDeps deps, std::string key, absl::Time deadline,
                                          ParkedAttempt attempt);

// Dequeue with wait_ms > 0: answers as soon as it leased something.
grpc::ServerUnaryReactor* StartLongPoll(ServiceDeps deps, std::string queue,
                                        storage::DequeueOptions options, absl::Time deadline,
                                        v1::DequeueResponse* response);

}  // namespace pgqrs::server
