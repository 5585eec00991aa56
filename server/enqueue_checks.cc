#include "server/enqueue_checks.h"

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "server/validation.h"
#include "storage/checks.h"

namespace pgqrs::server {

absl::StatusOr<std::vector<storage::NewMessage>> CheckNewMessages(
    const std::string& queue, const google::protobuf::RepeatedPtrField<v1::NewMessage>& messages,
    int64_t producer_worker_id, const Limits& limits) {
  PGQRS_RETURN_IF_ERROR(CheckName("queue", queue));
  PGQRS_RETURN_IF_ERROR(CheckBatch("messages", messages.size(), limits.max_batch));
  std::vector<storage::NewMessage> checked;
  checked.reserve(messages.size());
  for (int i = 0; i < messages.size(); ++i) {
    const v1::NewMessage& m = messages[i];
    std::string field = absl::StrCat("messages[", i, "]");
    PGQRS_RETURN_IF_ERROR(
        CheckJson(field + ".payload_json", m.payload_json(), limits.max_payload_bytes));
    PGQRS_ASSIGN_OR_RETURN(absl::Duration delay,
                           CheckMillis(field + ".delay_ms", m.delay_ms(), limits.max_delay));
    if (m.dedup_key().size() > 256) {
      return absl::InvalidArgumentError(field + ".dedup_key: longer than 256 bytes");
    }
    PGQRS_RETURN_IF_ERROR(storage::CheckText(field + ".dedup_key", m.dedup_key()));
    checked.push_back({m.payload_json(), delay, m.priority(), m.dedup_key()});
  }
  if (producer_worker_id < 0) {
    return absl::InvalidArgumentError("producer_worker_id: must not be negative");
  }
  return checked;
}

}  // namespace pgqrs::server
