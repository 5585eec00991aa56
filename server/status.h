// The one place absl::Status becomes a gRPC status. The canonical codes share their
// numbering, so this is a cast plus the message.
#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace pgqrs::server {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

}  // namespace pgqrs::server
