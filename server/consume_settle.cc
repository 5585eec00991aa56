#include "server/consume_settle.h"

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "server/convert.h"
#include "server/receipt.h"
#include "server/validation.h"

namespace pgqrs::server {
namespace {

using LeaseCall = std::function<absl::StatusOr<std::vector<storage::LeaseOutcome>>(
    std::span<const storage::Lease>)>;

absl::StatusOr<std::vector<Receipt>> ParseReceipts(
    const std::string& field, const google::protobuf::RepeatedPtrField<std::string>& texts,
    const Limits& limits) {
  if (texts.empty()) return std::vector<Receipt>();
  PGQRS_RETURN_IF_ERROR(CheckBatch(field, texts.size(), limits.max_batch));
  std::vector<Receipt> receipts;
  receipts.reserve(texts.size());
  for (const std::string& text : texts) {
    absl::StatusOr<storage::Lease> lease = DecodeReceipt(field, text);
    receipts.push_back({text, lease.ok() ? std::optional(*lease) : std::nullopt});
  }
  return receipts;
}

// One result per receipt: `call` runs once on the valid leases; the others are INVALID.
absl::StatusOr<std::vector<v1::ReceiptResult>> Apply(const std::vector<Receipt>& receipts,
                                                     const LeaseCall& call) {
  std::vector<storage::Lease> leases;
  for (const Receipt& r : receipts) {
    if (r.lease) leases.push_back(*r.lease);
  }
  std::vector<storage::LeaseOutcome> outcomes;
  if (!leases.empty()) {
    PGQRS_ASSIGN_OR_RETURN(outcomes, call(leases));
  }
  std::vector<v1::ReceiptResult> results;
  size_t next = 0;
  for (const Receipt& r : receipts) {
    results.push_back(r.lease ? ToProto(outcomes[next++]) : v1::RECEIPT_RESULT_INVALID);
  }
  return results;
}

void AddResults(std::span<const v1::ReceiptResult> results,
                google::protobuf::RepeatedField<int>* out) {
  for (v1::ReceiptResult r : results) out->Add(r);
}

}  // namespace

absl::StatusOr<std::optional<Settlement>> ParseSettlement(const v1::ConsumeRequest& request,
                                                          int64_t worker_id, const Limits& limits) {
  Settlement s;
  s.request_id = request.request_id();
  PGQRS_ASSIGN_OR_RETURN(s.acks, ParseReceipts("ack_receipts", request.ack_receipts(), limits));
  PGQRS_ASSIGN_OR_RETURN(s.nacks, ParseReceipts("nack_receipts", request.nack_receipts(), limits));
  PGQRS_ASSIGN_OR_RETURN(s.extends,
                         ParseReceipts("extend_receipts", request.extend_receipts(), limits));
  PGQRS_ASSIGN_OR_RETURN(s.nack_delay,
                         CheckMillis("nack_delay_ms", request.nack_delay_ms(), limits.max_delay));
  PGQRS_ASSIGN_OR_RETURN(s.extend_timeout, CheckMillis("extend_visibility_timeout_ms",
                                                       request.extend_visibility_timeout_ms(),
                                                       limits.max_visibility_timeout));
  s.heartbeat = request.heartbeat();
  if (s.heartbeat && worker_id == 0) {
    return absl::InvalidArgumentError(
        "heartbeat: the stream has no consumer_worker_id to heartbeat");
  }
  if (s.acks.empty() && s.nacks.empty() && s.extends.empty() && !s.heartbeat) {
    return std::nullopt;
  }
  return s;
}

absl::StatusOr<Settled> Settle(storage::Store& store, const std::string& queue, int64_t worker_id,
                               const std::vector<Settlement>& batch) {
  Settled settled;
  // Acks are the hot path: every request's acks go in one store call.
  std::vector<Receipt> all_acks;
  for (const Settlement& s : batch) all_acks.insert(all_acks.end(), s.acks.begin(), s.acks.end());
  PGQRS_ASSIGN_OR_RETURN(
      std::vector<v1::ReceiptResult> ack_results,
      Apply(all_acks, [&](std::span<const storage::Lease> l) { return store.Ack(queue, l); }));
  std::span<const v1::ReceiptResult> remaining_acks(ack_results);
  for (const Settlement& s : batch) {
    v1::ConsumeResponse& response = settled.responses.emplace_back();
    response.set_request_id(s.request_id);
    AddResults(remaining_acks.first(s.acks.size()), response.mutable_ack_results());
    remaining_acks = remaining_acks.subspan(s.acks.size());
    PGQRS_ASSIGN_OR_RETURN(std::vector<v1::ReceiptResult> nack_results,
                           Apply(s.nacks, [&](std::span<const storage::Lease> l) {
                             return store.Nack(queue, l, s.nack_delay);
                           }));
    AddResults(nack_results, response.mutable_nack_results());
    PGQRS_ASSIGN_OR_RETURN(std::vector<v1::ReceiptResult> extend_results,
                           Apply(s.extends, [&](std::span<const storage::Lease> l) {
                             return store.ExtendVisibility(queue, l, s.extend_timeout);
                           }));
    AddResults(extend_results, response.mutable_extend_results());
    if (s.heartbeat) {
      PGQRS_ASSIGN_OR_RETURN(storage::WorkerInfo worker, store.Heartbeat(worker_id));
      ToProto(worker, response.mutable_worker());
    }
    for (const Receipt& r : s.acks) settled.finished_receipts.push_back(r.text);
    for (const Receipt& r : s.nacks) settled.finished_receipts.push_back(r.text);
    if (s.nack_delay == absl::ZeroDuration()) {
      for (v1::ReceiptResult r : nack_results) settled.visible_again += r == v1::RECEIPT_RESULT_OK;
    }
  }
  return settled;
}

}  // namespace pgqrs::server
