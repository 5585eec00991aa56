// What every service needs, and the way every unary call runs: validated on the gRPC
// thread where that is cheap, then storage work on the executor, which finishes the call.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>

#include "absl/status/status.h"
#include "server/config.h"
#include "server/executor.h"
#include "server/waiters.h"
#include "storage/store.h"

namespace pgqrs::server {

struct ServiceDeps {
  storage::Store& store;
  Executor& executor;
  WaiterRegistry& waiters;
  const Config& config;
};

inline constexpr char kOverloaded[] = "server overloaded: too many calls waiting for storage";

// Runs `handler` on the executor and finishes the call with its status; answers
// RESOURCE_EXHAUSTED at once when the executor's queue is full.
grpc::ServerUnaryReactor* RunUnary(grpc::CallbackServerContext* context, Executor& executor,
                                   std::function<absl::Status()> handler);

// Finishes the call at once with `status` (bad input found on the gRPC thread).
grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                 const absl::Status& status);

}  // namespace pgqrs::server
