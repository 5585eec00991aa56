// GetQueueCounts and ListQueueCounts on the engine: queues' messages by state, from indexes.
//
// A deep queue holds millions of messages, and the metrics scrape counts every queue, so the
// count reads index entries rather than rows: the dequeue index holds each message's state
// and visibility time, and the leases index holds exactly the leased messages. Rows are
// read only for leases that expired (for their read count) and for the oldest pending
// message (for its enqueue time). The leases index is not by queue, so ListQueueCounts reads
// it once for all the queues it counts.
#include "absl/container/flat_hash_set.h"
#include "engine/base/status_macros.h"
#include "storage/engine/engine_store_impl.h"
#include "storage/engine/tables.h"

namespace pgqrs::storage::enginestore {
namespace {

// The ids of every leased message, of any queue. Leases are few next to pending messages:
// they are bounded by what consumers hold, and the reaper ends expired ones.
absl::StatusOr<absl::flat_hash_set<int64_t>> LeasedIds(Transaction& txn) {
  PGQRS_ASSIGN_OR_RETURN(auto it, txn.ScanIndex(kMessagesLeases, engine::IndexRange()));
  absl::flat_hash_set<int64_t> ids;
  while (it->Valid()) {
    ids.insert(it->rowid());
    PGQRS_RETURN_IF_ERROR(it->Next());
  }
  return ids;
}

// The counts of queue `q` at `now`, given the ids of every leased message.
absl::StatusOr<QueueCounts> CountQueue(Transaction& txn, const QueueRow& q,
                                       const absl::flat_hash_set<int64_t>& leased, int64_t now) {
  QueueCounts counts;
  PGQRS_ASSIGN_OR_RETURN(
      counts.dead,
      CountWithPrefix(txn, kMessagesDequeue, {Value::Integer(q.id), Value::Integer(kDead)}));
  PGQRS_ASSIGN_OR_RETURN(
      counts.archived,
      CountWithPrefix(txn, kMessagesDequeue, {Value::Integer(q.id), Value::Integer(kArchived)}));
  PGQRS_ASSIGN_OR_RETURN(
      auto it,
      txn.ScanIndex(kMessagesDequeue, PrefixRange({Value::Integer(q.id), Value::Integer(kLive)})));
  // Ids grow with enqueue time, so the pending message with the lowest id is the oldest
  // (to within the length of one write, for enqueues that run at the same time).
  std::optional<int64_t> oldest_pending_id;
  auto count_live = [&](int64_t id, int64_t vt) -> absl::Status {
    const bool is_leased = leased.contains(id);
    if (vt > now) {
      ++(is_leased ? counts.in_flight : counts.delayed);
      return absl::OkStatus();
    }
    if (is_leased) {  // an expired lease: dead once its reads are used up
      PGQRS_ASSIGN_OR_RETURN(Row row, GetRow(txn, kMessages, id, "message"));
      if (StateOf(row, q.max_read_count, now) == MessageState::kDead) {
        ++counts.dead;
        return absl::OkStatus();
      }
    }
    ++counts.pending;
    oldest_pending_id = std::min(oldest_pending_id.value_or(id), id);
    return absl::OkStatus();
  };
  while (it->Valid()) {
    PGQRS_RETURN_IF_ERROR(count_live(it->rowid(), it->key()[dequeue_key::kVt].integer()));
    PGQRS_RETURN_IF_ERROR(it->Next());
  }
  if (oldest_pending_id) {
    PGQRS_ASSIGN_OR_RETURN(Row oldest, GetRow(txn, kMessages, *oldest_pending_id, "message"));
    counts.oldest_pending_age = absl::Microseconds(now - Int(oldest, msg::kEnqueuedAt));
  }
  return counts;
}

}  // namespace

absl::StatusOr<QueueCounts> EngineStore::GetQueueCounts(const std::string& name) {
  QueueCounts counts;
  absl::Status status = Read([&](Transaction& txn) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(QueueRow q, FindQueue(txn, name));
    PGQRS_ASSIGN_OR_RETURN(absl::flat_hash_set<int64_t> leased, LeasedIds(txn));
    PGQRS_ASSIGN_OR_RETURN(counts, CountQueue(txn, q, leased, NowMicros()));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return counts;
}

absl::StatusOr<std::vector<NamedQueueCounts>> EngineStore::ListQueueCounts(
    const std::string& after_name, int32_t limit) {
  std::vector<NamedQueueCounts> all;
  absl::Status status = Read([&](Transaction& txn) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(absl::flat_hash_set<int64_t> leased, LeasedIds(txn));
    const int64_t now = NowMicros();
    PGQRS_ASSIGN_OR_RETURN(std::vector<Row> rows, QueueRowsAfter(txn, after_name, limit));
    for (const Row& row : rows) {
      const QueueRow q = ToQueueRow(row);
      PGQRS_ASSIGN_OR_RETURN(QueueCounts counts, CountQueue(txn, q, leased, now));
      all.push_back({q.name, counts});
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return all;
}

}  // namespace pgqrs::storage::enginestore
