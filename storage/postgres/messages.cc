// PostgresStore: enqueue, dequeue, the lease calls, lookups and dead letters.
#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "storage/checks.h"
#include "storage/lease_token.h"
#include "storage/postgres/store_impl.h"

namespace pgqrs::storage::pg {
namespace {

// The message columns Message needs; `q` must be the message's queue (for the state).
#define PGQRS_MESSAGE_COLUMNS                                                            \
  "m.id, m.payload::text, " PGQRS_US("m.enqueued_at") ", " PGQRS_US("m.vt")             \
  ", m.read_ct, m.priority, CASE WHEN m.state = 2 THEN 4 WHEN m.state = 1 THEN 3 "      \
  "WHEN m.vt > now() THEN (CASE WHEN m.lease_token IS NULL THEN 1 ELSE 2 END) "          \
  "WHEN m.lease_token IS NOT NULL AND m.read_ct >= q.max_read_count THEN 3 ELSE 0 END"

// A receipt is valid while the message is live, carries its token and has not expired.
#define PGQRS_VALID_LEASE \
  "m.id = l.id AND m.queue_id = $1 AND m.state = 0 AND m.lease_token = l.token AND m.vt > now()"
#define PGQRS_LEASES "unnest($2::int8[], $3::int8[]) AS l(id, token)"

constexpr Statement kProducer{
    "producer", "SELECT queue_id, status FROM pgqrs_workers WHERE id = $1 FOR SHARE"};
constexpr Statement kReserveIds{
    "reserve_ids",
    "SELECT nextval(pg_get_serial_sequence('pgqrs_messages', 'id')) FROM generate_series(1, $1)"};
constexpr Statement kInsertMessages{
    "insert_messages",
    "INSERT INTO pgqrs_messages (id, queue_id, payload, priority, state, vt, enqueued_at, "
    "read_ct, producer_worker_id, dedup_key) OVERRIDING SYSTEM VALUE "
    "SELECT t.id, $1, t.payload::jsonb, t.priority, 0, now() + " PGQRS_MICROS("t.delay")
    ", now(), 0, NULLIF($2::int8, 0), t.dedup "
    "FROM unnest($3::int8[], $4::text[], $5::int4[], $6::int8[], $7::text[]) "
    "AS t(id, payload, priority, delay, dedup) "
    "ON CONFLICT (queue_id, dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING RETURNING id"};
constexpr Statement kFindDedup{
    "find_dedup",
    "SELECT dedup_key, id FROM pgqrs_messages WHERE queue_id = $1 AND dedup_key = ANY($2::text[])"};
constexpr Statement kClaimConsumer{
    "claim_consumer",
    "UPDATE pgqrs_workers SET status = 1, heartbeat_at = now() "
    "WHERE id = $1 AND status IN (0, 1) RETURNING id"};
constexpr Statement kDequeue{
    "dequeue",
    "WITH c AS (SELECT id, priority, vt, (lease_token IS NOT NULL AND read_ct >= $2) AS dead "
    "  FROM pgqrs_messages WHERE queue_id = $1 AND state = 0 AND vt <= now() "
    "  ORDER BY priority DESC, vt, id LIMIT $3 FOR UPDATE SKIP LOCKED), "
    "d AS (UPDATE pgqrs_messages m SET state = 1, lease_token = NULL, consumer_worker_id = NULL "
    "  FROM c "
    "  WHERE m.id = c.id AND c.dead RETURNING m.id), "
    "l AS (UPDATE pgqrs_messages m SET read_ct = m.read_ct + 1, vt = now() + " PGQRS_MICROS("$4")
    ", lease_token = ($6::int8[])[t.n], "
    "  dequeued_at = coalesce(m.dequeued_at, now()), consumer_worker_id = NULLIF($5::int8, 0) "
    "  FROM (SELECT id, row_number() OVER (ORDER BY priority DESC, vt, id) AS n "
    "        FROM c WHERE NOT c.dead) t "
    "  WHERE m.id = t.id RETURNING m.id, m.payload::text, "
    "  m.enqueued_at, m.vt, m.read_ct, m.priority, m.lease_token) "
    "SELECT c.id, c.dead, l.payload, " PGQRS_US("l.enqueued_at") ", " PGQRS_US("l.vt")
    ", l.read_ct, l.priority, l.lease_token, (SELECT count(*) FROM d) "
    "FROM c LEFT JOIN l ON l.id = c.id ORDER BY c.priority DESC, c.vt, c.id"};
constexpr Statement kAck{
    "ack",
    "UPDATE pgqrs_messages m SET state = 2, archived_at = now(), lease_token = NULL, "
    "consumer_worker_id = NULL, dedup_key = NULL FROM " PGQRS_LEASES " WHERE " PGQRS_VALID_LEASE " RETURNING m.id, l.token"};
constexpr Statement kDelete{
    "delete",
    "DELETE FROM pgqrs_messages m USING " PGQRS_LEASES " WHERE " PGQRS_VALID_LEASE
    " RETURNING m.id, l.token"};
constexpr Statement kNack{
    "nack",
    "UPDATE pgqrs_messages m SET lease_token = NULL, consumer_worker_id = NULL, "
    "vt = CASE WHEN m.read_ct >= $4 THEN now() ELSE now() + " PGQRS_MICROS("$5") " END, "
    "state = CASE WHEN m.read_ct >= $4 THEN 1 ELSE 0 END FROM " PGQRS_LEASES
    " WHERE " PGQRS_VALID_LEASE " RETURNING m.id, l.token, m.state"};
constexpr Statement kExtend{
    "extend", "UPDATE pgqrs_messages m SET vt = now() + " PGQRS_MICROS("$4") " FROM " PGQRS_LEASES
              " WHERE " PGQRS_VALID_LEASE " RETURNING m.id, l.token"};
constexpr Statement kReturn{
    "return_leases",
    "UPDATE pgqrs_messages m SET lease_token = NULL, consumer_worker_id = NULL, vt = now(), "
    "read_ct = greatest(m.read_ct - 1, 0) FROM " PGQRS_LEASES " WHERE " PGQRS_VALID_LEASE
    " RETURNING m.id, l.token"};
constexpr Statement kExistingIds{
    "existing_ids", "SELECT id FROM pgqrs_messages WHERE queue_id = $1 AND id = ANY($2::int8[])"};
constexpr Statement kGetMessages{
    "get_messages", "SELECT " PGQRS_MESSAGE_COLUMNS " FROM pgqrs_messages m "
                    "JOIN pgqrs_queues q ON q.id = m.queue_id "
                    "WHERE m.queue_id = $1 AND m.id = ANY($2::int8[])"};
// Records the dead letters that so far are dead only because their final lease expired.
constexpr Statement kSettleDead{
    "settle_dead",
    "UPDATE pgqrs_messages SET state = 1, lease_token = NULL, consumer_worker_id = NULL "
    "WHERE queue_id = $1 AND state = 0 "
    "AND lease_token IS NOT NULL AND vt <= now() AND read_ct >= $2"};
constexpr Statement kListDead{
    "list_dead", "SELECT " PGQRS_MESSAGE_COLUMNS " FROM pgqrs_messages m "
                 "JOIN pgqrs_queues q ON q.id = m.queue_id "
                 "WHERE m.queue_id = $1 AND m.state = 1 AND m.id > $2 ORDER BY m.id LIMIT $3"};
constexpr Statement kRedrive{
    "redrive",
    "UPDATE pgqrs_messages SET state = 0, read_ct = 0, vt = now(), lease_token = NULL, "
    "consumer_worker_id = NULL WHERE queue_id = $1 AND state = 1 AND ($2 OR id = ANY($3::int8[]))"};

Message ReadMessage(const Rows& rows, int row, const std::string& queue) {
  Message m;
  m.id = rows.Int(row, 0);
  m.queue = queue;
  m.payload_json = rows.Text(row, 1);
  m.enqueued_at = rows.Time(row, 2);
  m.visible_at = rows.Time(row, 3);
  m.read_count = static_cast<int32_t>(rows.Int(row, 4));
  m.priority = static_cast<int32_t>(rows.Int(row, 5));
  m.state = static_cast<MessageState>(rows.Int(row, 6));
  return m;
}

absl::Status CheckBatch(size_t size) {
  if (size > kMaxBatch) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch of ", size, " exceeds the limit of ", kMaxBatch));
  }
  return absl::OkStatus();
}

// A named producer or consumer must exist, be live and belong to the queue (or be an
// admin, which has none).
absl::Status CheckProducer(Tx& tx, int64_t worker_id, int64_t queue_id) {
  PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.Query(kProducer, Params().Add(worker_id)));
  if (rows.size() == 0) {
    return absl::NotFoundError(absl::StrCat("worker ", worker_id, " not found"));
  }
  if (rows.Int(0, 1) == static_cast<int>(WorkerStatus::kStopped)) {
    return absl::FailedPreconditionError(absl::StrCat("worker ", worker_id, " is stopped"));
  }
  if (!rows.IsNull(0, 0) && rows.Int(0, 0) != queue_id) {
    return absl::InvalidArgumentError(
        absl::StrCat("worker ", worker_id, " is registered for another queue"));
  }
  return absl::OkStatus();
}

}  // namespace

namespace {

// Which messages of a batch insert a row: a dedup key seen earlier in the batch points at
// that earlier message instead.
struct BatchPlan {
  std::vector<size_t> first_with_key;  // per message: itself, or the earlier same-key one
  std::vector<size_t> inserted;        // positions that insert a row
};

absl::StatusOr<BatchPlan> PlanBatch(std::span<const NewMessage> messages) {
  BatchPlan plan;
  std::map<std::string, size_t> keys;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (messages[i].delay < absl::ZeroDuration()) {
      return absl::InvalidArgumentError("message delay must not be negative");
    }
    plan.first_with_key.push_back(i);
    const std::string& key = messages[i].dedup_key;
    if (!key.empty()) {
      auto [it, fresh] = keys.emplace(key, i);
      plan.first_with_key[i] = it->second;
      if (!fresh) continue;
    }
    plan.inserted.push_back(i);
  }
  return plan;
}

// Inserts the planned rows under reserved ids (written to `ids`); returns the ids stored.
// A row whose key an unarchived message already holds is not stored.
absl::StatusOr<std::set<int64_t>> InsertRows(Tx& tx, int64_t queue_id, int64_t producer,
                                             std::span<const NewMessage> messages,
                                             const BatchPlan& plan, std::vector<int64_t>& ids) {
  PGQRS_ASSIGN_OR_RETURN(Rows reserved,
                         tx.Query(kReserveIds, Params().Add(int64_t(plan.inserted.size()))));
  std::vector<int64_t> row_ids, delays;
  std::vector<int32_t> priorities;
  std::vector<std::optional<std::string>> payloads, dedup;
  for (size_t k = 0; k < plan.inserted.size(); ++k) {
    const NewMessage& m = messages[plan.inserted[k]];
    ids[plan.inserted[k]] = reserved.Int(static_cast<int>(k), 0);
    row_ids.push_back(ids[plan.inserted[k]]);
    payloads.push_back(m.payload_json);
    priorities.push_back(m.priority);
    delays.push_back(absl::ToInt64Microseconds(m.delay));
    dedup.push_back(m.dedup_key.empty() ? std::nullopt : std::optional(m.dedup_key));
  }
  Params params;
  params.Add(queue_id).Add(producer).AddArray(row_ids).AddArray(payloads);
  params.AddArray(priorities).AddArray(delays).AddArray(dedup);
  PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.Query(kInsertMessages, params));
  std::set<int64_t> stored;
  for (int i = 0; i < rows.size(); ++i) stored.insert(rows.Int(i, 0));
  return stored;
}

// Points the rows that were not stored at the unarchived messages holding their keys.
absl::Status ResolveTakenKeys(Tx& tx, int64_t queue_id, std::span<const NewMessage> messages,
                              const BatchPlan& plan, const std::set<int64_t>& stored,
                              std::vector<int64_t>& ids) {
  std::vector<std::optional<std::string>> taken;
  for (size_t pos : plan.inserted) {
    if (!stored.contains(ids[pos])) taken.push_back(messages[pos].dedup_key);
  }
  if (taken.empty()) return absl::OkStatus();
  PGQRS_ASSIGN_OR_RETURN(Rows existing,
                         tx.Query(kFindDedup, Params().Add(queue_id).AddArray(taken)));
  std::map<std::string, int64_t> by_key;
  for (int i = 0; i < existing.size(); ++i) by_key[existing.Text(i, 0)] = existing.Int(i, 1);
  for (size_t pos : plan.inserted) {
    if (stored.contains(ids[pos])) continue;
    auto it = by_key.find(messages[pos].dedup_key);
    // The holder was archived between our insert and this read: retried as a conflict.
    if (it == by_key.end()) return absl::AbortedError("dedup key released concurrently");
    ids[pos] = it->second;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<int64_t>> PostgresStore::Enqueue(
    const std::string& queue, std::span<const NewMessage> messages, int64_t producer_worker_id) {
  if (messages.empty()) return absl::InvalidArgumentError("enqueue needs at least one message");
  PGQRS_RETURN_IF_ERROR(CheckBatch(messages.size()));
  PGQRS_RETURN_IF_ERROR(CheckDedupKeys(messages));
  PGQRS_ASSIGN_OR_RETURN(BatchPlan plan, PlanBatch(messages));
  bool visible_now = std::any_of(messages.begin(), messages.end(), [](const NewMessage& m) {
    return m.delay <= absl::ZeroDuration();
  });
  std::vector<int64_t> ids(messages.size());
  PGQRS_RETURN_IF_ERROR(Transact([&](Tx& tx) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(QueueRow q, FindPlainQueue(tx, queue));
    if (producer_worker_id != 0) {
      PGQRS_RETURN_IF_ERROR(CheckProducer(tx, producer_worker_id, q.id));
    }
    PGQRS_ASSIGN_OR_RETURN(std::set<int64_t> stored,
                           InsertRows(tx, q.id, producer_worker_id, messages, plan, ids));
    PGQRS_RETURN_IF_ERROR(ResolveTakenKeys(tx, q.id, messages, plan, stored, ids));
    for (size_t i = 0; i < messages.size(); ++i) ids[i] = ids[plan.first_with_key[i]];
    if (visible_now && !stored.empty()) PGQRS_RETURN_IF_ERROR(Notify(tx, queue));
    return absl::OkStatus();
  }));
  return ids;
}

absl::Status ClaimConsumer(Tx& tx, int64_t worker_id, int64_t queue_id) {
  PGQRS_RETURN_IF_ERROR(CheckProducer(tx, worker_id, queue_id));
  PGQRS_ASSIGN_OR_RETURN(Rows claimed, tx.Query(kClaimConsumer, Params().Add(worker_id)));
  if (claimed.size() == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "worker ", worker_id, " is suspended or interrupted and may not dequeue"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Message>> LeaseVisible(Tx& tx, const std::string& queue,
                                                  const QueueRow& q, int32_t max_messages,
                                                  absl::Duration timeout, int64_t consumer) {
  std::vector<Message> leased;
  // Each round dead-letters at least one row or ends, so this terminates.
  while (static_cast<int32_t>(leased.size()) < max_messages) {
    Params params;
    params.Add(q.id).Add(int64_t{q.max_read_count});
    int64_t wanted = int64_t{max_messages} - static_cast<int64_t>(leased.size());
    PGQRS_ASSIGN_OR_RETURN(std::vector<int64_t> tokens, NewLeaseTokens(wanted));
    params.Add(wanted).Add(timeout).Add(consumer).AddArray(tokens);
    PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.Query(kDequeue, params));
    for (int i = 0; i < rows.size(); ++i) {
      if (rows.Bool(i, 1)) continue;  // dead-lettered on the way
      Message m;
      m.id = rows.Int(i, 0);
      m.queue = queue;
      m.payload_json = rows.Text(i, 2);
      m.enqueued_at = rows.Time(i, 3);
      m.visible_at = rows.Time(i, 4);
      m.read_count = static_cast<int32_t>(rows.Int(i, 5));
      m.priority = static_cast<int32_t>(rows.Int(i, 6));
      m.state = MessageState::kInFlight;
      m.lease = Lease{m.id, rows.Int(i, 7)};
      leased.push_back(std::move(m));
    }
    if (rows.size() == 0 || rows.Int(0, 8) == 0) break;
  }
  return leased;
}

absl::StatusOr<std::vector<Message>> PostgresStore::Dequeue(const std::string& queue,
                                                            const DequeueOptions& options) {
  if (options.max_messages <= 0) return absl::InvalidArgumentError("max_messages must be positive");
  PGQRS_RETURN_IF_ERROR(CheckBatch(options.max_messages));
  if (options.visibility_timeout.has_value() && *options.visibility_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("visibility timeout must not be negative");
  }
  std::vector<Message> leased;
  PGQRS_RETURN_IF_ERROR(Transact([&](Tx& tx) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(QueueRow q, FindPlainQueue(tx, queue));
    int64_t consumer = options.consumer_worker_id;
    if (consumer != 0) PGQRS_RETURN_IF_ERROR(ClaimConsumer(tx, consumer, q.id));
    absl::Duration timeout = options.visibility_timeout.value_or(q.visibility_timeout);
    PGQRS_ASSIGN_OR_RETURN(leased,
                           LeaseVisible(tx, queue, q, options.max_messages, timeout, consumer));
    return absl::OkStatus();
  }));
  return leased;
}

absl::StatusOr<std::vector<LeaseOutcome>> PostgresStore::ApplyLeases(
    TriggerQueue trigger, const std::string& queue, std::span<const Lease> leases,
    bool lease_survives,
    const std::function<absl::StatusOr<std::vector<int64_t>>(Tx&, const QueueRow&, const Params&)>&
        apply) {
  PGQRS_RETURN_IF_ERROR(CheckBatch(leases.size()));
  std::vector<int64_t> ids, tokens;
  for (const Lease& lease : leases) {
    ids.push_back(lease.message_id);
    tokens.push_back(lease.token);
  }
  std::vector<LeaseOutcome> outcomes;
  PGQRS_RETURN_IF_ERROR(Transact([&](Tx& tx) -> absl::Status {
    outcomes.clear();
    PGQRS_ASSIGN_OR_RETURN(QueueRow q, trigger == TriggerQueue::kAllow ? FindQueue(tx, queue)
                                                                       : FindPlainQueue(tx, queue));
    if (leases.empty()) return absl::OkStatus();
    Params params;
    params.Add(q.id).AddArray(ids).AddArray(tokens);
    // `apply` returns (id, token) pairs flattened: id0, token0, id1, token1, ...
    PGQRS_ASSIGN_OR_RETURN(std::vector<int64_t> done, apply(tx, q, params));
    std::set<std::pair<int64_t, int64_t>> ok;
    for (size_t i = 0; i + 1 < done.size(); i += 2) ok.insert({done[i], done[i + 1]});
    // Only leases that failed need telling apart: lost (the message exists) or not found.
    std::vector<int64_t> failed;
    for (const Lease& lease : leases) {
      if (!ok.contains({lease.message_id, lease.token})) failed.push_back(lease.message_id);
    }
    std::set<int64_t> known;
    if (!failed.empty()) {
      PGQRS_ASSIGN_OR_RETURN(Rows existing,
                             tx.Query(kExistingIds, Params().Add(q.id).AddArray(failed)));
      for (int i = 0; i < existing.size(); ++i) known.insert(existing.Int(i, 0));
    }
    std::set<std::pair<int64_t, int64_t>> used;
    for (const Lease& lease : leases) {
      std::pair<int64_t, int64_t> key{lease.message_id, lease.token};
      // A lease the call ended counts once; a repeat of it in the batch finds it gone.
      if (ok.contains(key) && (lease_survives || used.insert(key).second)) {
        outcomes.push_back(LeaseOutcome::kOk);
      } else if (known.contains(lease.message_id) || ok.contains(key)) {
        outcomes.push_back(LeaseOutcome::kLeaseLost);
      } else {
        outcomes.push_back(LeaseOutcome::kNotFound);
      }
    }
    return absl::OkStatus();
  }));
  return outcomes;
}

namespace {

absl::StatusOr<std::vector<int64_t>> RunLeaseStatement(Tx& tx, const Statement& statement,
                                                       const Params& params) {
  PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.Query(statement, params));
  std::vector<int64_t> done;
  for (int i = 0; i < rows.size(); ++i) {
    done.push_back(rows.Int(i, 0));
    done.push_back(rows.Int(i, 1));
  }
  return done;
}

}  // namespace

absl::StatusOr<std::vector<LeaseOutcome>> PostgresStore::Ack(const std::string& queue,
                                                             std::span<const Lease> leases) {
  return ApplyLeases(TriggerQueue::kRefuse, queue, leases, false,
                     [](Tx& tx, const QueueRow&, const Params& params) {
                       return RunLeaseStatement(tx, kAck, params);
                     });
}

absl::StatusOr<std::vector<LeaseOutcome>> PostgresStore::Delete(const std::string& queue,
                                                                std::span<const Lease> leases) {
  return ApplyLeases(TriggerQueue::kRefuse, queue, leases, false,
                     [](Tx& tx, const QueueRow&, const Params& params) {
                       return RunLeaseStatement(tx, kDelete, params);
                     });
}

absl::StatusOr<std::vector<LeaseOutcome>> PostgresStore::Nack(const std::string& queue,
                                                              std::span<const Lease> leases,
                                                              absl::Duration delay) {
  if (delay < absl::ZeroDuration()) return absl::InvalidArgumentError("delay must not be negative");
  return ApplyLeases(
      TriggerQueue::kRefuse, queue, leases, false,
      [&](Tx& tx, const QueueRow& q, const Params& params) -> absl::StatusOr<std::vector<int64_t>> {
        Params full = params;
        full.Add(int64_t{q.max_read_count}).Add(delay);
        PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.Query(kNack, full));
        std::vector<int64_t> done;
        bool visible = false;
        for (int i = 0; i < rows.size(); ++i) {
          done.push_back(rows.Int(i, 0));
          done.push_back(rows.Int(i, 1));
          visible = visible || rows.Int(i, 2) == 0;
        }
        if (visible && delay <= absl::ZeroDuration()) PGQRS_RETURN_IF_ERROR(Notify(tx, queue));
        return done;
      });
}

absl::StatusOr<std::vector<LeaseOutcome>> PostgresStore::ExtendVisibility(
    const std::string& queue, std::span<const Lease> leases, absl::Duration timeout) {
  if (timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("visibility timeout must not be negative");
  }
  return ApplyLeases(TriggerQueue::kRefuse, queue, leases, true,
                     [&](Tx& tx, const QueueRow&, const Params& params) {
                       Params full = params;
                       full.Add(timeout);
                       return RunLeaseStatement(tx, kExtend, full);
                     });
}

absl::StatusOr<std::vector<LeaseOutcome>> PostgresStore::ReturnLeases(
    const std::string& queue, std::span<const Lease> leases) {
  return ApplyLeases(
      TriggerQueue::kAllow, queue, leases, false,
      [&](Tx& tx, const QueueRow&, const Params& params) -> absl::StatusOr<std::vector<int64_t>> {
        PGQRS_ASSIGN_OR_RETURN(std::vector<int64_t> done, RunLeaseStatement(tx, kReturn, params));
        if (!done.empty()) PGQRS_RETURN_IF_ERROR(Notify(tx, queue));
        return done;
      });
}

absl::StatusOr<std::vector<Message>> PostgresStore::GetMessages(const std::string& queue,
                                                                std::span<const int64_t> ids) {
  PGQRS_RETURN_IF_ERROR(CheckBatch(ids.size()));
  std::vector<int64_t> wanted(ids.begin(), ids.end());
  std::vector<Message> found;
  PGQRS_RETURN_IF_ERROR(Transact([&](Tx& tx) -> absl::Status {
    found.clear();
    PGQRS_ASSIGN_OR_RETURN(QueueRow q, FindQueue(tx, queue));
    if (wanted.empty()) return absl::OkStatus();
    PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.Query(kGetMessages, Params().Add(q.id).AddArray(wanted)));
    std::map<int64_t, Message> by_id;
    for (int i = 0; i < rows.size(); ++i) {
      Message m = ReadMessage(rows, i, queue);
      by_id.emplace(m.id, std::move(m));
    }
    for (int64_t id : wanted) {  // request order, each id once
      auto it = by_id.find(id);
      if (it == by_id.end()) continue;
      found.push_back(std::move(it->second));
      by_id.erase(it);
    }
    return absl::OkStatus();
  }));
  return found;
}

absl::StatusOr<std::vector<Message>> PostgresStore::ListDeadLetters(const std::string& queue,
                                                                    int64_t after_id,
                                                                    int32_t limit) {
  if (limit <= 0) return absl::InvalidArgumentError("limit must be positive");
  int64_t bounded = std::min<int64_t>(limit, kMaxBatch);
  std::vector<Message> dead;
  PGQRS_RETURN_IF_ERROR(Transact([&](Tx& tx) -> absl::Status {
    dead.clear();
    PGQRS_ASSIGN_OR_RETURN(QueueRow q, FindQueue(tx, queue));
    PGQRS_RETURN_IF_ERROR(
        tx.Query(kSettleDead, Params().Add(q.id).Add(int64_t{q.max_read_count})).status());
    PGQRS_ASSIGN_OR_RETURN(Rows rows,
                           tx.Query(kListDead, Params().Add(q.id).Add(after_id).Add(bounded)));
    for (int i = 0; i < rows.size(); ++i) dead.push_back(ReadMessage(rows, i, queue));
    return absl::OkStatus();
  }));
  return dead;
}

absl::StatusOr<int64_t> PostgresStore::Redrive(const std::string& queue,
                                               std::span<const int64_t> ids) {
  PGQRS_RETURN_IF_ERROR(CheckBatch(ids.size()));
  std::vector<int64_t> wanted(ids.begin(), ids.end());
  int64_t moved = 0;
  PGQRS_RETURN_IF_ERROR(Transact([&](Tx& tx) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(QueueRow q, FindPlainQueue(tx, queue));
    PGQRS_RETURN_IF_ERROR(
        tx.Query(kSettleDead, Params().Add(q.id).Add(int64_t{q.max_read_count})).status());
    Params params;
    params.Add(q.id).Add(wanted.empty() ? "true" : "false").AddArray(wanted);
    PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.Query(kRedrive, params));
    moved = rows.Affected();
    if (moved > 0) PGQRS_RETURN_IF_ERROR(Notify(tx, queue));
    return absl::OkStatus();
  }));
  return moved;
}

}  // namespace pgqrs::storage::pg
