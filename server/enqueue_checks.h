// Validation of the messages of an enqueue, shared by Enqueue and Publish streams.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/pgqrs/v1/queue.pb.h"
#include "server/config.h"
#include "storage/types.h"

namespace pgqrs::server {

// The messages to store on `queue`, or the first problem found (validation.h's style).
absl::StatusOr<std::vector<storage::NewMessage>> CheckNewMessages(
    const std::string& queue, const google::protobuf::RepeatedPtrField<v1::NewMessage>& messages,
    int64_t producer_worker_id, const Limits& limits);

}  // namespace pgqrs::server
