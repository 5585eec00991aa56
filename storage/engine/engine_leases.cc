// EngineStore: the calls that act on a lease (ack, delete, nack, extend) and the ways a
// lease ends without one (expiry, worker release).
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "storage/engine/engine_store_impl.h"
#include "storage/engine/tables.h"

namespace pgqrs::storage::enginestore {
namespace {

// A lease's outcome and, unless kNotFound, the row of the message it names.
struct Checked {
  LeaseOutcome outcome;
  Row message;
};
absl::StatusOr<Checked> CheckLease(Transaction& txn, int64_t queue_id, const Lease& lease,
                                   int64_t now) {
  PGQRS_ASSIGN_OR_RETURN(std::optional<Row> m, txn.Get(kMessages, lease.message_id));
  if (!m || Int(*m, msg::kQueueId) != queue_id) return Checked{LeaseOutcome::kNotFound, {}};
  bool valid = Int(*m, msg::kState) == kLive && Int(*m, msg::kVt) > now &&
               OptInt(*m, msg::kLeaseToken) == lease.token;
  return Checked{valid ? LeaseOutcome::kOk : LeaseOutcome::kLeaseLost, std::move(*m)};
}

// Clears the lease of message row `m`: dead when `dead`, else visible at `vt` (unchanged when
// nullopt).
absl::Status EndLease(Transaction& txn, Row m, bool dead, std::optional<int64_t> vt) {
  int64_t id = Int(m, msg::kId);
  m[msg::kLeaseToken] = Value::Null();
  m[msg::kConsumerWorkerId] = Value::Null();
  if (dead) m[msg::kState] = Value::Integer(kDead);
  if (vt) m[msg::kVt] = Value::Integer(*vt);
  return txn.Update(kMessages, id, std::move(m));
}

// max_read_count by queue id, looked up once per call.
class QueueLimits {
 public:
  explicit QueueLimits(Transaction& txn) : txn_(txn) {}
  absl::StatusOr<QueueRow> Get(int64_t queue_id) {
    auto it = cache_.find(queue_id);
    if (it != cache_.end()) return it->second;
    PGQRS_ASSIGN_OR_RETURN(QueueRow q, QueueById(txn_, queue_id));
    cache_[queue_id] = q;
    return q;
  }

 private:
  Transaction& txn_;
  std::map<int64_t, QueueRow> cache_;
};

}  // namespace

absl::StatusOr<std::vector<LeaseOutcome>> EngineStore::ApplyToLeases(const std::string& queue,
                                                                     std::span<const Lease> leases,
                                                                     const LeaseChange& change) {
  std::vector<LeaseOutcome> outcomes;
  absl::Status status = Write([&](Transaction& txn) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(QueueRow q, FindQueue(txn, queue));
    int64_t now = NowMicros();
    for (const Lease& lease : leases) {
      PGQRS_ASSIGN_OR_RETURN(Checked checked, CheckLease(txn, q.id, lease, now));
      if (checked.outcome == LeaseOutcome::kOk) {
        PGQRS_RETURN_IF_ERROR(change(txn, q, std::move(checked.message), now));
      }
      outcomes.push_back(checked.outcome);
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return outcomes;
}

absl::StatusOr<std::vector<LeaseOutcome>> EngineStore::Ack(const std::string& queue,
                                                           std::span<const Lease> leases) {
  return ApplyToLeases(queue, leases, [](Transaction& txn, const QueueRow&, Row m, int64_t now) {
    int64_t id = Int(m, msg::kId);
    m[msg::kState] = Value::Integer(kArchived);
    m[msg::kArchivedAt] = Value::Integer(now);
    m[msg::kLeaseToken] = Value::Null();
    m[msg::kConsumerWorkerId] = Value::Null();
    m[msg::kDedupKey] = Value::Null();
    return txn.Update(kMessages, id, std::move(m));
  });
}

absl::StatusOr<std::vector<LeaseOutcome>> EngineStore::Delete(const std::string& queue,
                                                              std::span<const Lease> leases) {
  return ApplyToLeases(queue, leases, [](Transaction& txn, const QueueRow&, Row m, int64_t) {
    return txn.Delete(kMessages, Int(m, msg::kId)).status();
  });
}

absl::StatusOr<std::vector<LeaseOutcome>> EngineStore::Nack(const std::string& queue,
                                                            std::span<const Lease> leases,
                                                            absl::Duration delay) {
  return ApplyToLeases(queue, leases,
                       [delay](Transaction& txn, const QueueRow& q, Row m, int64_t now) {
                         if (Int(m, msg::kReadCt) >= q.max_read_count) {
                           return EndLease(txn, std::move(m), /*dead=*/true, now);
                         }
                         return EndLease(txn, std::move(m), false, now + ToMicros(delay));
                       });
}

absl::StatusOr<std::vector<LeaseOutcome>> EngineStore::ExtendVisibility(
    const std::string& queue, std::span<const Lease> leases, absl::Duration timeout) {
  return ApplyToLeases(queue, leases,
                       [timeout](Transaction& txn, const QueueRow&, Row m, int64_t now) {
                         int64_t id = Int(m, msg::kId);
                         m[msg::kVt] = Value::Integer(now + ToMicros(timeout));
                         return txn.Update(kMessages, id, std::move(m));
                       });
}

absl::StatusOr<std::pair<int64_t, int64_t>> ExpireLeases(Transaction& txn, int64_t queue_id,
                                                         int64_t now) {
  engine::IndexRange range;
  range.upper = engine::IndexBound{{Value::Integer(now)}, /*inclusive=*/true};
  PGQRS_ASSIGN_OR_RETURN(auto it, txn.ScanIndex(kMessagesLeases, range));
  std::vector<int64_t> ids;
  while (it->Valid()) {
    ids.push_back(it->rowid());
    PGQRS_RETURN_IF_ERROR(it->Next());
  }
  QueueLimits limits(txn);
  int64_t expired = 0, dead = 0;
  for (int64_t id : ids) {
    PGQRS_ASSIGN_OR_RETURN(Row m, GetRow(txn, kMessages, id, "message"));
    if (queue_id != 0 && Int(m, msg::kQueueId) != queue_id) continue;
    PGQRS_ASSIGN_OR_RETURN(QueueRow q, limits.Get(Int(m, msg::kQueueId)));
    bool to_dead = Int(m, msg::kReadCt) >= q.max_read_count;
    PGQRS_RETURN_IF_ERROR(EndLease(txn, std::move(m), to_dead, std::nullopt));
    ++expired;
    dead += to_dead;
  }
  return std::make_pair(expired, dead);
}

absl::StatusOr<Released> ReleaseWorkerLeases(Transaction& txn, int64_t worker_id, int64_t now) {
  PGQRS_ASSIGN_OR_RETURN(auto ids,
                         RowidsWithPrefix(txn, kMessagesConsumer, {Value::Integer(worker_id)}));
  QueueLimits limits(txn);
  std::set<std::string> queues;
  Released released;
  for (int64_t id : ids) {
    PGQRS_ASSIGN_OR_RETURN(Row m, GetRow(txn, kMessages, id, "message"));
    PGQRS_ASSIGN_OR_RETURN(QueueRow q, limits.Get(Int(m, msg::kQueueId)));
    queues.insert(q.name);
    bool to_dead = Int(m, msg::kReadCt) >= q.max_read_count;
    // Unlike expiry, release sets the state either way (a live row stays live).
    m[msg::kState] = Value::Integer(to_dead ? kDead : kLive);
    PGQRS_RETURN_IF_ERROR(EndLease(txn, std::move(m), to_dead, now));
    ++released.messages;
  }
  released.queues.assign(queues.begin(), queues.end());
  return released;
}

}  // namespace pgqrs::storage::enginestore
