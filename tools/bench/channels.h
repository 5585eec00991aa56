// gRPC plumbing the benchmark clients share.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "tools/client/channel.h"

namespace pgqrs::bench {

// A channel to `server` with `identity`'s credentials and token and its own TCP
// connection: channels made with different `index` values never share one, so load
// spreads over several connections as it would from several client processes.
std::shared_ptr<grpc::Channel> NewChannel(const std::string& server,
                                          const client::ClientIdentity& identity, int index);

// The same code and message as an absl::Status.
absl::Status ToAbsl(const grpc::Status& status);

}  // namespace pgqrs::bench
