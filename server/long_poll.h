// The Dequeue call with wait_ms > 0: a reactor that tries to lease messages and, when
// none are visible, parks on the WaiterRegistry (no thread held) until an enqueue, the
// reaper, its deadline, cancellation or shutdown wakes it.
#pragma once

#include <grpcpp/grpcpp.h>

#include "absl/time/time.h"
#include "proto/pgqrs/v1/queue.pb.h"
#include "server/call.h"
#include "storage/types.h"

namespace pgqrs::server {

// Starts the call. `deadline` is when it answers with whatever it has (maybe nothing).
// The returned reactor deletes itself when gRPC is done with it.
grpc::ServerUnaryReactor* StartLongPoll(ServiceDeps deps, std::string queue,
                                        storage::DequeueOptions options, absl::Time deadline,
                                        v1::DequeueResponse* response);

}  // namespace pgqrs::server
