// Limits against abuse that sit in front of the services: the transport's (request size,
// memory of requests in flight, streams per connection) and the number of parked
// long-polls per connection and in total. Refusals are RESOURCE_EXHAUSTED naming the
// limit's flag.
#pragma once

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "server/config.h"

namespace pgqrs::server {

// Sets gRPC's receive cap to GrpcReceiveCap(limits), a resource quota of
// limits.max_inflight_bytes and the streams cap.
void ApplyTransportLimits(const Limits& limits, grpc::ServerBuilder& builder);

// gRPC's own receive cap: twice limits.max_request_bytes (at most INT32_MAX). gRPC refuses a
// larger request before parsing it, in its own words ("Received message larger than max");
// a request between the two caps is parsed (memory stays bounded by this cap and the
// in-flight quota) and refused by CheckRequestSize, whose message names the flag.
int GrpcReceiveCap(const Limits& limits);

// RESOURCE_EXHAUSTED naming --max_request_bytes when `request` encodes to more bytes.
absl::Status CheckRequestSize(const google::protobuf::Message& request, const Limits& limits);

// Counts long-poll calls from admission to the end of the call.
//
// Thread safety: all methods may be called from any thread.
class LongPollLimiter {
 public:
  LongPollLimiter(int per_connection, int total)
      : per_connection_(per_connection), total_limit_(total) {}

  // Admits `call` (any pointer unique while the call lives) from connection `peer`, or
  // refuses it when either limit is reached.
  absl::Status Admit(const void* call, const std::string& peer);
  // Frees the slot of `call`; does nothing for a call that holds none.
  void Release(const void* call);

  int parked();

 private:
  const int per_connection_;
  const int total_limit_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, int> per_peer_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<const void*, std::string> holders_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pgqrs::server
