// The receipt work a Consume stream's requests carry (acks, nacks, extends, heartbeat):
// parsed on the gRPC thread, run on the store from the executor. Acks of several requests
// share one store call; each request still gets one result per receipt, in its order.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/pgqrs/v1/queue.pb.h"
#include "server/config.h"
#include "storage/store.h"

namespace pgqrs::server {

// One receipt as the client sent it; no lease when it is not a receipt this server issued
// (its result is RECEIPT_RESULT_INVALID).
struct Receipt {
  std::string text;
  std::optional<storage::Lease> lease;
};

// The receipt work and heartbeat of one request.
struct Settlement {
  int64_t request_id = 0;
  std::vector<Receipt> acks;
  std::vector<Receipt> nacks;
  std::vector<Receipt> extends;
  absl::Duration nack_delay;
  absl::Duration extend_timeout;
  bool heartbeat = false;
};

// The request's settlement, nullopt when it carries none, or INVALID_ARGUMENT.
// `worker_id` is the stream's consumer (0: none, and a heartbeat is refused).
absl::StatusOr<std::optional<Settlement>> ParseSettlement(const v1::ConsumeRequest& request,
                                                          int64_t worker_id, const Limits& limits);

// What running a batch of settlements produced.
struct Settled {
  // One per settlement, in order.
  std::vector<v1::ConsumeResponse> responses;
  // Receipts acked or nacked, whatever the result: the stream no longer holds them.
  std::vector<std::string> finished_receipts;
  // Messages nacked without delay: visible again now.
  int64_t visible_again = 0;
};

// Runs `batch` on `queue`. A storage error fails the whole batch.
absl::StatusOr<Settled> Settle(storage::Store& store, const std::string& queue, int64_t worker_id,
                               const std::vector<Settlement>& batch);

}  // namespace pgqrs::server
