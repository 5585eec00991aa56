// EngineStore: enqueue, dequeue, message lookups, counts and dead letters.
#include <algorithm>
#include <atomic>
#include <set>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "storage/checks.h"
#include "storage/engine/engine_store_impl.h"
#include "storage/engine/tables.h"
#include "storage/lease_token.h"

namespace pgqrs::storage::enginestore {
namespace {

// A named producer must exist, be live and belong to the queue (or be an admin).
absl::Status CheckProducer(Transaction& txn, int64_t worker_id, int64_t queue_id) {
  PGQRS_ASSIGN_OR_RETURN(Row w, GetRow(txn, kWorkers, worker_id, "worker"));
  std::optional<int64_t> worker_queue = OptInt(w, worker::kQueueId);
  if (Int(w, worker::kStatus) == static_cast<int64_t>(WorkerStatus::kStopped)) {
    return absl::FailedPreconditionError(absl::StrCat("worker ", worker_id, " is stopped"));
  }
  if (worker_queue && *worker_queue != queue_id) {
    return absl::InvalidArgumentError(
        absl::StrCat("worker ", worker_id, " is registered for another queue"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<int64_t>> FindDuplicate(Transaction& txn, int64_t queue_id,
                                                     const std::string& dedup_key) {
  PGQRS_ASSIGN_OR_RETURN(
      auto ids,
      RowidsWithPrefix(txn, kMessagesDedup, {Value::Integer(queue_id), Value::Text(dedup_key)}));
  if (ids.empty()) return std::optional<int64_t>();
  return std::optional<int64_t>(ids[0]);
}

// Counts the Dequeue calls in progress while it lives.
class ClaimsInProgress {
 public:
  explicit ClaimsInProgress(std::atomic<int>& count) : count_(count), others_(count_++) {}
  ~ClaimsInProgress() { --count_; }
  // Claims that were in progress when this one started.
  int others() const { return others_; }

 private:
  std::atomic<int>& count_;
  const int others_;
};

// `wanted` consecutive ids of `candidates`, starting at a random offset (all of them when
// there are no more than `wanted`).
std::vector<int64_t> PickAtRandomOffset(std::vector<int64_t> candidates, int64_t wanted) {
  const int64_t extra = static_cast<int64_t>(candidates.size()) - wanted;
  if (extra <= 0) return candidates;
  thread_local absl::BitGen random;
  const int64_t offset = absl::Uniform<int64_t>(absl::IntervalClosed, random, 0, extra);
  return {candidates.begin() + offset, candidates.begin() + offset + wanted};
}

}  // namespace

absl::Status ClaimVisible(Transaction& txn, const QueueRow& q, const DequeueOptions& options,
                          int64_t now, int64_t window, std::vector<Message>& leased) {
  // Candidates that a commit this transaction's snapshot does not show claimed already: the
  // engine refuses to change them (a write conflict that leaves the transaction usable), and
  // the claim moves on to others.
  std::set<int64_t> claimed_elsewhere;
  while (static_cast<int32_t>(leased.size()) < options.max_messages) {
    const int64_t wanted = options.max_messages - static_cast<int64_t>(leased.size());
    const int64_t limit = wanted * window + static_cast<int64_t>(claimed_elsewhere.size());
    PGQRS_ASSIGN_OR_RETURN(std::vector<int64_t> candidates,
                           VisibleCandidates(txn, q.id, now, limit));
    const bool every_visible = static_cast<int64_t>(candidates.size()) < limit;
    std::erase_if(candidates, [&](int64_t id) { return claimed_elsewhere.contains(id); });
    std::vector<int64_t> batch = PickAtRandomOffset(candidates, wanted);
    for (int64_t id : batch) {
      // A row whose final lease ended is dead-lettered (nullopt) and the scan continues.
      absl::StatusOr<std::optional<Message>> m = LeaseOne(txn, id, q, options, now);
      if (engine::IsWriteConflict(m.status())) {
        claimed_elsewhere.insert(id);
        continue;
      }
      PGQRS_RETURN_IF_ERROR(m.status());
      if (*m) leased.push_back(std::move(**m));
    }
    if (every_visible && batch.size() == candidates.size()) break;
  }
  return absl::OkStatus();
}

MessageState StateOf(const Row& m, int32_t max_read_count, int64_t now) {
  int64_t state = Int(m, msg::kState);
  bool leased = !m[msg::kLeaseToken].is_null();
  if (state == kArchived) return MessageState::kArchived;
  if (state == kDead) return MessageState::kDead;
  if (Int(m, msg::kVt) > now) return leased ? MessageState::kInFlight : MessageState::kDelayed;
  return leased && Int(m, msg::kReadCt) >= max_read_count ? MessageState::kDead
                                                          : MessageState::kPending;
}

Message ToMessage(const Row& m, const std::string& queue, int32_t max_read_count, int64_t now) {
  Message out;
  out.id = Int(m, msg::kId);
  out.queue = queue;
  out.payload_json = Text(m, msg::kPayload);
  out.enqueued_at = FromMicros(Int(m, msg::kEnqueuedAt));
  out.visible_at = FromMicros(Int(m, msg::kVt));
  out.read_count = static_cast<int32_t>(Int(m, msg::kReadCt));
  out.priority = static_cast<int32_t>(Int(m, msg::kPriority));
  out.state = StateOf(m, max_read_count, now);
  return out;
}

absl::Status ClaimConsumer(Transaction& txn, int64_t worker_id, int64_t queue_id, int64_t now) {
  PGQRS_RETURN_IF_ERROR(CheckProducer(txn, worker_id, queue_id));
  return EditRow(txn, kWorkers, worker_id, "worker", [&](Row& w) -> absl::Status {
    int64_t status = Int(w, worker::kStatus);
    if (status != static_cast<int64_t>(WorkerStatus::kReady) &&
        status != static_cast<int64_t>(WorkerStatus::kPolling)) {
      return absl::FailedPreconditionError(
          absl::StrCat("worker ", worker_id, " is suspended or interrupted and may not dequeue"));
    }
    w[worker::kStatus] = Value::Integer(static_cast<int64_t>(WorkerStatus::kPolling));
    w[worker::kHeartbeatAt] = Value::Integer(now);
    return absl::OkStatus();
  });
}

void ClearLease(Row& m) {
  m[msg::kLeaseToken] = Value::Null();
  m[msg::kConsumerWorkerId] = Value::Null();
}

absl::Status InsertMessage(Transaction& txn, int64_t id, int64_t queue_id, const NewMessage& m,
                           int64_t producer, int64_t now) {
  Row row(msg::kCount);
  row[msg::kId] = Value::Integer(id);
  row[msg::kQueueId] = Value::Integer(queue_id);
  row[msg::kPayload] = Value::Text(m.payload_json);
  row[msg::kPriority] = Value::Integer(m.priority);
  row[msg::kState] = Value::Integer(kLive);
  row[msg::kVt] = Value::Integer(now + ToMicros(m.delay));
  row[msg::kEnqueuedAt] = Value::Integer(now);
  row[msg::kReadCt] = Value::Integer(0);
  row[msg::kProducerWorkerId] = IdOrNull(producer);
  row[msg::kDedupKey] = TextOrNull(m.dedup_key);
  return txn.Insert(kMessages, std::move(row)).status();
}

absl::StatusOr<std::vector<int64_t>> VisibleCandidates(Transaction& txn, int64_t queue_id,
                                                       int64_t now, int64_t limit) {
  // Index order is (queue_id, state, priority DESC, vt, id): within one priority the visible
  // rows come first, so the scan skips to the next priority at the first invisible row.
  std::vector<int64_t> out;
  const std::vector<Value> live = {Value::Integer(queue_id), Value::Integer(kLive)};
  engine::IndexRange range = PrefixRange(live);
  while (static_cast<int64_t>(out.size()) < limit) {
    PGQRS_ASSIGN_OR_RETURN(auto it, txn.ScanIndex(kMessagesDequeue, range));
    while (it->Valid() && static_cast<int64_t>(out.size()) < limit) {
      if (it->key()[dequeue_key::kVt].integer() > now) break;
      out.push_back(it->rowid());
      PGQRS_RETURN_IF_ERROR(it->Next());
    }
    if (!it->Valid() || static_cast<int64_t>(out.size()) >= limit) break;
    range.lower = engine::IndexBound{{live[0], live[1], it->key()[dequeue_key::kPriority]},
                                     /*inclusive=*/false};
  }
  return out;
}

absl::StatusOr<std::optional<Message>> LeaseOne(Transaction& txn, int64_t id, const QueueRow& q,
                                                const DequeueOptions& options, int64_t now) {
  std::optional<Message> leased;
  PGQRS_RETURN_IF_ERROR(EditRow(txn, kMessages, id, "message", [&](Row& m) {
    ClearLease(m);
    if (Int(m, msg::kReadCt) >= q.max_read_count) {
      m[msg::kState] = Value::Integer(kDead);  // its final lease ended
      return absl::OkStatus();
    }
    PGQRS_ASSIGN_OR_RETURN(std::vector<int64_t> tokens, NewLeaseTokens(1));
    int64_t token = tokens[0];
    m[msg::kVt] =
        Value::Integer(now + ToMicros(options.visibility_timeout.value_or(q.visibility_timeout)));
    m[msg::kReadCt] = Value::Integer(Int(m, msg::kReadCt) + 1);
    m[msg::kLeaseToken] = Value::Integer(token);
    m[msg::kConsumerWorkerId] = IdOrNull(options.consumer_worker_id);
    if (m[msg::kDequeuedAt].is_null()) m[msg::kDequeuedAt] = Value::Integer(now);
    leased = ToMessage(m, q.name, q.max_read_count, now);
    leased->lease = Lease{id, token};
    return absl::OkStatus();
  }));
  return leased;
}

absl::StatusOr<std::vector<int64_t>> EngineStore::Enqueue(const std::string& queue,
                                                          std::span<const NewMessage> messages,
                                                          int64_t producer_worker_id) {
  PGQRS_RETURN_IF_ERROR(CheckDedupKeys(messages));
  PGQRS_ASSIGN_OR_RETURN(const int64_t first_id,
                         ids_.Take(kMessageSequence, static_cast<int64_t>(messages.size())));
  std::vector<int64_t> ids;
  absl::Status status = Write([&](Transaction& txn) -> absl::Status {
    ids.clear();
    PGQRS_ASSIGN_OR_RETURN(QueueRow q, PlainQueue(txn, queue));
    if (producer_worker_id) PGQRS_RETURN_IF_ERROR(CheckProducer(txn, producer_worker_id, q.id));
    int64_t next_id = first_id;
    int64_t now = NowMicros();
    for (const NewMessage& m : messages) {
      if (!m.dedup_key.empty()) {
        PGQRS_ASSIGN_OR_RETURN(std::optional<int64_t> existing,
                               FindDuplicate(txn, q.id, m.dedup_key));
        if (existing) {
          ids.push_back(*existing);
          continue;
        }
      }
      PGQRS_RETURN_IF_ERROR(InsertMessage(txn, next_id, q.id, m, producer_worker_id, now));
      ids.push_back(next_id++);
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return ids;
}

absl::StatusOr<std::vector<Message>> EngineStore::Dequeue(const std::string& queue,
                                                          const DequeueOptions& options) {
  ClaimsInProgress claims(claims_in_progress_);
  // With concurrent writers, claims running at the same time would all pick the first visible
  // messages and all but one would conflict. Each starts at a random offset among the first
  // (other claims + 1) x wanted candidates instead, a window that grows with every attempt
  // that lost a conflict (the candidates its snapshot shows first may be claimed already by
  // commits it cannot see yet). A lone claim keeps strict dequeue order.
  const int64_t claimers = mvcc_ ? claims.others() + 1 : 1;
  int64_t attempts = 0;
  std::vector<Message> leased;
  absl::Status status = Write([&](Transaction& txn) -> absl::Status {
    leased.clear();
    const int64_t window = claimers * (mvcc_ ? ++attempts : 1);
    PGQRS_ASSIGN_OR_RETURN(QueueRow q, PlainQueue(txn, queue));
    int64_t now = NowMicros();
    if (options.consumer_worker_id) {
      PGQRS_RETURN_IF_ERROR(ClaimConsumer(txn, options.consumer_worker_id, q.id, now));
    }
    return ClaimVisible(txn, q, options, now, window, leased);
  });
  if (!status.ok()) return status;
  return leased;
}

absl::StatusOr<std::vector<Message>> EngineStore::GetMessages(const std::string& queue,
                                                              std::span<const int64_t> ids) {
  std::vector<Message> found;
  absl::Status status = Read([&](Transaction& txn) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(QueueRow q, FindQueue(txn, queue));
    int64_t now = NowMicros();
    for (int64_t id : ids) {
      PGQRS_ASSIGN_OR_RETURN(std::optional<Row> row, txn.Get(kMessages, id));
      if (row && Int(*row, msg::kQueueId) == q.id) {
        found.push_back(ToMessage(*row, queue, q.max_read_count, now));
      }
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return found;
}

absl::StatusOr<std::vector<Message>> EngineStore::ListDeadLetters(const std::string& queue,
                                                                  int64_t after_id, int32_t limit) {
  std::vector<Message> dead;
  absl::Status status = Write([&](Transaction& txn) -> absl::Status {
    dead.clear();
    PGQRS_ASSIGN_OR_RETURN(QueueRow q, FindQueue(txn, queue));
    int64_t now = NowMicros();
    PGQRS_RETURN_IF_ERROR(ExpireQueueLeases(txn, q.id, now));
    PGQRS_ASSIGN_OR_RETURN(
        auto ids,
        RowidsWithPrefix(txn, kMessagesDequeue, {Value::Integer(q.id), Value::Integer(kDead)}));
    std::sort(ids.begin(), ids.end());
    for (auto it = std::upper_bound(ids.begin(), ids.end(), after_id);
         it != ids.end() && static_cast<int32_t>(dead.size()) < limit; ++it) {
      PGQRS_ASSIGN_OR_RETURN(Row row, GetRow(txn, kMessages, *it, "message"));
      dead.push_back(ToMessage(row, queue, q.max_read_count, now));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return dead;
}

absl::StatusOr<int64_t> EngineStore::Redrive(const std::string& queue,
                                             std::span<const int64_t> ids) {
  int64_t moved = 0;
  absl::Status status = Write([&](Transaction& txn) -> absl::Status {
    moved = 0;
    PGQRS_ASSIGN_OR_RETURN(QueueRow q, FindPlainQueue(txn, queue));
    int64_t now = NowMicros();
    PGQRS_RETURN_IF_ERROR(ExpireQueueLeases(txn, q.id, now));
    std::vector<int64_t> wanted(ids.begin(), ids.end());
    if (wanted.empty()) {
      PGQRS_ASSIGN_OR_RETURN(
          wanted,
          RowidsWithPrefix(txn, kMessagesDequeue, {Value::Integer(q.id), Value::Integer(kDead)}));
    }
    for (int64_t id : wanted) {
      PGQRS_RETURN_IF_ERROR(txn.Modify(kMessages, id,
                                       [&](Row& m) {
                                         if (Int(m, msg::kQueueId) != q.id ||
                                             Int(m, msg::kState) != kDead) {
                                           return absl::OkStatus();
                                         }
                                         m[msg::kState] = Value::Integer(kLive);
                                         m[msg::kReadCt] = Value::Integer(0);
                                         m[msg::kVt] = Value::Integer(now);
                                         ++moved;
                                         return absl::OkStatus();
                                       })
                                .status());
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return moved;
}

}  // namespace pgqrs::storage::enginestore
