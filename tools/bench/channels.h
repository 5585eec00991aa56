// gRPC plumbing the benchmark clients share.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"

namespace pgqrs::bench {

// An insecure channel to `server` with its own TCP connection: channels made with
// different `index` values never share one, so load spreads over several connections
// as it would from several client processes.
std::shared_ptr<grpc::Channel> NewChannel(const std::string& server, int index);

// The same code and message as an absl::Status.
absl::Status ToAbsl(const grpc::Status& status);

}  // namespace pgqrs::bench
