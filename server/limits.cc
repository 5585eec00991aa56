#include "server/limits.h"

#include <grpcpp/resource_quota.h>

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace pgqrs::server {

int GrpcReceiveCap(const Limits& limits) {
  return static_cast<int>(std::min<int64_t>(2 * limits.max_request_bytes, INT32_MAX));
}

absl::Status CheckRequestSize(const google::protobuf::Message& request, const Limits& limits) {
  size_t bytes = request.ByteSizeLong();
  if (bytes <= static_cast<size_t>(limits.max_request_bytes)) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat("request of ", bytes,
                                                   " bytes is over the request cap "
                                                   "(--max_request_bytes=",
                                                   limits.max_request_bytes, ")"));
}

void ApplyTransportLimits(const Limits& limits, grpc::ServerBuilder& builder) {
  builder.SetMaxReceiveMessageSize(GrpcReceiveCap(limits));
  grpc::ResourceQuota quota("pgqrsd-requests");
  quota.Resize(static_cast<size_t>(limits.max_inflight_bytes));
  builder.SetResourceQuota(quota);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, limits.max_streams_per_connection);
}

absl::Status LongPollLimiter::Admit(const void* call, const std::string& peer) {
  absl::MutexLock lock(&mu_);
  if (static_cast<int>(holders_.size()) >= total_limit_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "too many parked long-polls on the server (--max_long_polls=", total_limit_, ")"));
  }
  int& mine = per_peer_[peer];
  if (mine >= per_connection_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("too many parked long-polls on this connection "
                     "(--max_long_polls_per_connection=",
                     per_connection_, ")"));
  }
  ++mine;
  holders_.emplace(call, peer);
  return absl::OkStatus();
}

void LongPollLimiter::Release(const void* call) {
  absl::MutexLock lock(&mu_);
  auto holder = holders_.find(call);
  if (holder == holders_.end()) return;
  auto peer = per_peer_.find(holder->second);
  if (--peer->second == 0) per_peer_.erase(peer);
  holders_.erase(holder);
}

int LongPollLimiter::parked() {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(holders_.size());
}

}  // namespace pgqrs::server
