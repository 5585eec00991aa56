// SqliteStore: enqueue, dequeue, message lookups and dead letters.
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "storage/checks.h"
#include "storage/lease_token.h"
#include "storage/sqlite/sqlite_store_impl.h"

namespace pgqrs::storage::sqlite {
namespace {

constexpr char kMessageColumns[] =
    "id, payload, enqueued_at, vt, read_ct, priority, state, lease_token";

MessageState StateOf(int64_t state, int64_t vt, bool leased, int64_t read_ct,
                     int32_t max_read_count, int64_t now) {
  if (state == kArchived) return MessageState::kArchived;
  if (state == kDead) return MessageState::kDead;
  if (vt > now) return leased ? MessageState::kInFlight : MessageState::kDelayed;
  return leased && read_ct >= max_read_count ? MessageState::kDead : MessageState::kPending;
}

// Reads a row selected with kMessageColumns.
Message ReadMessage(const Statement& st, const std::string& queue, const QueueRow& q, int64_t now) {
  Message m;
  m.id = st.Int(0);
  m.queue = queue;
  m.payload_json = st.Text(1);
  m.enqueued_at = FromMicros(st.Int(2));
  m.visible_at = FromMicros(st.Int(3));
  m.read_count = static_cast<int32_t>(st.Int(4));
  m.priority = static_cast<int32_t>(st.Int(5));
  m.state = StateOf(st.Int(6), st.Int(3), !st.IsNull(7), st.Int(4), q.max_read_count, now);
  return m;
}

// A named producer must exist, be live and belong to the queue (or be an admin).
absl::Status CheckProducer(Connection& db, int64_t worker_id, int64_t queue_id) {
  PGQRS_ASSIGN_OR_RETURN(Statement * st,
                         db.Prepare("SELECT queue_id, status FROM pgqrs_workers WHERE id = ?"));
  st->BindAll(worker_id);
  PGQRS_ASSIGN_OR_RETURN(bool found, st->Step());
  if (!found) return absl::NotFoundError(absl::StrCat("worker ", worker_id, " not found"));
  std::optional<int64_t> worker_queue = st->OptionalInt(0);
  int64_t status = st->Int(1);
  st->Reset();
  if (status == static_cast<int64_t>(WorkerStatus::kStopped)) {
    return absl::FailedPreconditionError(absl::StrCat("worker ", worker_id, " is stopped"));
  }
  if (worker_queue && *worker_queue != queue_id) {
    return absl::InvalidArgumentError(
        absl::StrCat("worker ", worker_id, " is registered for another queue"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ClaimConsumer(Connection& db, int64_t worker_id, int64_t queue_id, int64_t now) {
  PGQRS_RETURN_IF_ERROR(CheckProducer(db, worker_id, queue_id));
  PGQRS_ASSIGN_OR_RETURN(Statement * st,
                         db.Prepare("UPDATE pgqrs_workers SET status = 1, heartbeat_at = ? "
                                    "WHERE id = ? AND status IN (0, 1) RETURNING id"));
  st->BindAll(now, worker_id);
  PGQRS_ASSIGN_OR_RETURN(bool updated, st->Step());
  st->Reset();
  if (!updated) {
    return absl::FailedPreconditionError(
        absl::StrCat("worker ", worker_id, " is suspended or interrupted and may not dequeue"));
  }
  return absl::OkStatus();
}

namespace {

absl::StatusOr<std::optional<int64_t>> FindDuplicate(Connection& db, int64_t queue_id,
                                                     const std::string& dedup_key) {
  PGQRS_ASSIGN_OR_RETURN(
      Statement * st,
      db.Prepare("SELECT id FROM pgqrs_messages WHERE queue_id = ? AND dedup_key = ?"));
  st->BindAll(queue_id, dedup_key);
  PGQRS_ASSIGN_OR_RETURN(bool found, st->Step());
  std::optional<int64_t> id = found ? std::optional<int64_t>(st->Int(0)) : std::nullopt;
  st->Reset();
  return id;
}

}  // namespace

absl::Status InsertMessage(Connection& db, int64_t id, int64_t queue_id, const NewMessage& m,
                           int64_t producer, int64_t now) {
  PGQRS_ASSIGN_OR_RETURN(
      Statement * st,
      db.Prepare("INSERT INTO pgqrs_messages (id, queue_id, payload, priority, state, vt, "
                 "enqueued_at, read_ct, producer_worker_id, dedup_key) "
                 "VALUES (?, ?, ?, ?, 0, ?, ?, 0, ?, ?)"));
  st->BindAll(id, queue_id, m.payload_json, int64_t{m.priority}, now + ToMicros(m.delay), now,
              producer ? std::optional<int64_t>(producer) : std::nullopt);
  m.dedup_key.empty() ? st->BindNull(8) : st->Bind(8, m.dedup_key);
  return st->Run();
}

absl::StatusOr<std::vector<Candidate>> VisibleCandidates(Connection& db, int64_t queue_id,
                                                         int64_t now, int64_t limit) {
  PGQRS_ASSIGN_OR_RETURN(
      Statement * st,
      db.Prepare("SELECT id, read_ct FROM pgqrs_messages WHERE queue_id = ? AND state = 0 "
                 "AND vt <= ? ORDER BY priority DESC, vt, id LIMIT ?"));
  st->BindAll(queue_id, now, limit);
  std::vector<Candidate> out;
  while (true) {
    PGQRS_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) return out;
    out.push_back({st->Int(0), st->Int(1)});
  }
}

namespace {

absl::Status MarkDead(Connection& db, int64_t id) {
  PGQRS_ASSIGN_OR_RETURN(Statement * st,
                         db.Prepare("UPDATE pgqrs_messages SET state = 1, lease_token = NULL, "
                                    "consumer_worker_id = NULL WHERE id = ?"));
  st->BindAll(id);
  return st->Run();
}

}  // namespace

absl::StatusOr<Message> LeaseOne(Connection& db, int64_t id, const std::string& queue,
                                 const QueueRow& q, const DequeueOptions& options, int64_t now) {
  int64_t vt = now + ToMicros(options.visibility_timeout.value_or(q.visibility_timeout));
  PGQRS_ASSIGN_OR_RETURN(std::vector<int64_t> tokens, NewLeaseTokens(1));
  int64_t token = tokens[0];
  PGQRS_ASSIGN_OR_RETURN(
      Statement * st,
      db.Prepare("UPDATE pgqrs_messages SET vt = ?, read_ct = read_ct + 1, lease_token = ?, "
                 "consumer_worker_id = ?, dequeued_at = COALESCE(dequeued_at, ?) WHERE id = ? "
                 "RETURNING id, payload, enqueued_at, vt, read_ct, priority, state, "
                 "lease_token"));
  st->BindAll(vt, token,
              options.consumer_worker_id ? std::optional<int64_t>(options.consumer_worker_id)
                                         : std::nullopt,
              now, id);
  PGQRS_ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return absl::InternalError(absl::StrCat("message ", id, " vanished mid-lease"));
  Message m = ReadMessage(*st, queue, q, now);
  st->Reset();
  m.lease = Lease{id, token};
  return m;
}

absl::StatusOr<std::vector<int64_t>> SqliteStore::Enqueue(const std::string& queue,
                                                          std::span<const NewMessage> messages,
                                                          int64_t producer_worker_id) {
  PGQRS_RETURN_IF_ERROR(CheckDedupKeys(messages));
  std::vector<int64_t> ids;
  absl::Status status = Write([&](Connection& db) -> absl::Status {
    ids.clear();
    PGQRS_ASSIGN_OR_RETURN(QueueRow q, FindPlainQueue(db, queue));
    if (producer_worker_id) PGQRS_RETURN_IF_ERROR(CheckProducer(db, producer_worker_id, q.id));
    PGQRS_ASSIGN_OR_RETURN(int64_t next_id, TakeIds(db, kMessageSequence, messages.size()));
    int64_t now = NowMicros();
    for (const NewMessage& m : messages) {
      if (!m.dedup_key.empty()) {
        PGQRS_ASSIGN_OR_RETURN(std::optional<int64_t> existing,
                               FindDuplicate(db, q.id, m.dedup_key));
        if (existing) {
          ids.push_back(*existing);
          continue;
        }
      }
      PGQRS_RETURN_IF_ERROR(InsertMessage(db, next_id, q.id, m, producer_worker_id, now));
      ids.push_back(next_id++);
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return ids;
}

absl::StatusOr<std::vector<Message>> SqliteStore::Dequeue(const std::string& queue,
                                                          const DequeueOptions& options) {
  std::vector<Message> leased;
  absl::Status status = Write([&](Connection& db) -> absl::Status {
    leased.clear();
    PGQRS_ASSIGN_OR_RETURN(QueueRow q, FindPlainQueue(db, queue));
    int64_t now = NowMicros();
    if (options.consumer_worker_id) {
      PGQRS_RETURN_IF_ERROR(ClaimConsumer(db, options.consumer_worker_id, q.id, now));
    }
    // Rows whose final lease ended are dead-lettered here and the scan continues.
    while (static_cast<int32_t>(leased.size()) < options.max_messages) {
      int64_t wanted = options.max_messages - static_cast<int64_t>(leased.size());
      PGQRS_ASSIGN_OR_RETURN(std::vector<Candidate> batch,
                             VisibleCandidates(db, q.id, now, wanted));
      for (const Candidate& c : batch) {
        if (c.read_ct >= q.max_read_count) {
          PGQRS_RETURN_IF_ERROR(MarkDead(db, c.id));
          continue;
        }
        PGQRS_ASSIGN_OR_RETURN(Message m, LeaseOne(db, c.id, queue, q, options, now));
        leased.push_back(std::move(m));
      }
      if (static_cast<int64_t>(batch.size()) < wanted) break;
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return leased;
}

absl::StatusOr<std::vector<Message>> SqliteStore::GetMessages(const std::string& queue,
                                                              std::span<const int64_t> ids) {
  std::vector<Message> found;
  absl::Status status = Read([&](Connection& db) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(QueueRow q, FindQueue(db, queue));
    static const std::string sql = absl::StrCat("SELECT ", kMessageColumns,
                                                " FROM pgqrs_messages WHERE id = ? AND "
                                                "queue_id = ?");
    PGQRS_ASSIGN_OR_RETURN(Statement * st, db.Prepare(sql.c_str()));
    int64_t now = NowMicros();
    for (int64_t id : ids) {
      st->Reset();
      st->BindAll(id, q.id);
      PGQRS_ASSIGN_OR_RETURN(bool row, st->Step());
      if (row) found.push_back(ReadMessage(*st, queue, q, now));
    }
    st->Reset();
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return found;
}

absl::StatusOr<std::vector<Message>> SqliteStore::ListDeadLetters(const std::string& queue,
                                                                  int64_t after_id, int32_t limit) {
  std::vector<Message> dead;
  absl::Status status = Write([&](Connection& db) -> absl::Status {
    dead.clear();
    PGQRS_ASSIGN_OR_RETURN(QueueRow q, FindQueue(db, queue));
    int64_t now = NowMicros();
    PGQRS_RETURN_IF_ERROR(ExpireQueueLeases(db, q.id, now));
    static const std::string sql =
        absl::StrCat("SELECT ", kMessageColumns,
                     " FROM pgqrs_messages WHERE queue_id = ? AND state = 1 AND id > ? "
                     "ORDER BY id LIMIT ?");
    PGQRS_ASSIGN_OR_RETURN(Statement * st, db.Prepare(sql.c_str()));
    st->BindAll(q.id, after_id, int64_t{limit});
    while (true) {
      PGQRS_ASSIGN_OR_RETURN(bool row, st->Step());
      if (!row) return absl::OkStatus();
      dead.push_back(ReadMessage(*st, queue, q, now));
    }
  });
  if (!status.ok()) return status;
  return dead;
}

absl::StatusOr<int64_t> SqliteStore::Redrive(const std::string& queue,
                                             std::span<const int64_t> ids) {
  int64_t moved = 0;
  absl::Status status = Write([&](Connection& db) -> absl::Status {
    moved = 0;
    PGQRS_ASSIGN_OR_RETURN(QueueRow q, FindPlainQueue(db, queue));
    int64_t now = NowMicros();
    PGQRS_RETURN_IF_ERROR(ExpireQueueLeases(db, q.id, now));
    constexpr char kRedriveAll[] =
        "UPDATE pgqrs_messages SET state = 0, read_ct = 0, vt = ?2 "
        "WHERE queue_id = ?1 AND state = 1";
    constexpr char kRedriveOne[] =
        "UPDATE pgqrs_messages SET state = 0, read_ct = 0, vt = ?2 "
        "WHERE queue_id = ?1 AND state = 1 AND id = ?3";
    PGQRS_ASSIGN_OR_RETURN(Statement * st, db.Prepare(ids.empty() ? kRedriveAll : kRedriveOne));
    if (ids.empty()) {
      st->BindAll(q.id, now);
      PGQRS_RETURN_IF_ERROR(st->Run());
      moved = db.Changes();
    }
    for (int64_t id : ids) {
      st->Reset();
      st->BindAll(q.id, now, id);
      PGQRS_RETURN_IF_ERROR(st->Run());
      moved += db.Changes();
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return moved;
}

absl::StatusOr<QueueCounts> SqliteStore::GetQueueCounts(const std::string& name) {
  QueueCounts counts;
  absl::Status status = Read([&](Connection& db) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(QueueRow q, FindQueue(db, name));
    // A lease that expired at max_read_count is dead even before the reaper records it.
    PGQRS_ASSIGN_OR_RETURN(
        Statement * st,
        db.Prepare("SELECT "
                   "COALESCE(SUM(state = 0 AND vt <= ?2 AND NOT (lease_token IS NOT NULL AND "
                   "read_ct >= ?3)), 0), "
                   "COALESCE(SUM(state = 0 AND vt > ?2 AND lease_token IS NULL), 0), "
                   "COALESCE(SUM(state = 0 AND vt > ?2 AND lease_token IS NOT NULL), 0), "
                   "COALESCE(SUM(state = 1 OR (state = 0 AND vt <= ?2 AND lease_token IS NOT "
                   "NULL AND read_ct >= ?3)), 0), "
                   "COALESCE(SUM(state = 2), 0), "
                   "MIN(CASE WHEN state = 0 AND vt <= ?2 AND NOT (lease_token IS NOT NULL AND "
                   "read_ct >= ?3) THEN enqueued_at END) "
                   "FROM pgqrs_messages WHERE queue_id = ?1"));
    int64_t now = NowMicros();
    st->BindAll(q.id, now, int64_t{q.max_read_count});
    PGQRS_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) return absl::InternalError("queue counts returned no row");
    counts = {
        st->Int(0), st->Int(1),
        st->Int(2), st->Int(3),
        st->Int(4), st->IsNull(5) ? absl::ZeroDuration() : absl::Microseconds(now - st->Int(5))};
    st->Reset();
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return counts;
}

absl::StatusOr<std::vector<NamedQueueCounts>> SqliteStore::ListQueueCounts(
    const std::string& after_name, int32_t limit) {
  return ListQueueCountsEach(*this, after_name, limit);
}

}  // namespace pgqrs::storage::sqlite
