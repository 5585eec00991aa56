// PostgresStore: enqueue, dequeue, the lease calls, lookups and dead letters.
#include <algorithm>
#include <map>
#include <set>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "storage/checks.h"
#include "storage/lease_token.h"
#include "storage/postgres/plain_calls.h"
#include "storage/postgres/store_impl.h"

namespace pgqrs::storage::pg {
namespace {

// The message columns Message needs; `q` must be the message's queue (for the state).
#define PGQRS_MESSAGE_COLUMNS \
  "m.id, m.payload::text, " PGQRS_US("m.enqueued_at") ", " PGQRS_US("m.vt")             \
  ", m.read_ct, m.priority, CASE WHEN m.state = 2 THEN 4 WHEN m.state = 1 THEN 3 "      \
  "WHEN m.vt > now() THEN (CASE WHEN m.lease_token IS NULL THEN 1 ELSE 2 END) "          \
  "WHEN m.lease_token IS NOT NULL AND m.read_ct >= q.max_read_count THEN 3 ELSE 0 END"

// The lifecycle calls are single statements on the functions of
// migrations/postgres/0004_call_functions.sql (as 0005_lean_calls.sql redefines them),
// each sent in one round trip (Call).
constexpr Statement kEnqueue{
    "enqueue",
    "SELECT e.refusal, i.id FROM pgqrs_enqueue($1, $2, $3::text[], $4::int4[], $5::int8[], "
    "$6::text[]) e LEFT JOIN LATERAL unnest(e.ids) WITH ORDINALITY AS i(id, n) ON true "
    "ORDER BY i.n"};
#define PGQRS_LEASED_COLUMNS "id, payload, enqueued_us, vt_us, read_ct, priority, token"
constexpr Statement kDequeue{"dequeue", "SELECT refusal, " PGQRS_LEASED_COLUMNS
                                        " FROM pgqrs_dequeue($1, $2, $3, $4, $5::int8[])"};
constexpr Statement kLeaseVisible{"lease_visible",
                                  "SELECT " PGQRS_LEASED_COLUMNS
                                  " FROM pgqrs_lease_visible($1, $2, $3, $4, $5, $6::int8[])"};
constexpr Statement kConsumerRefusal{"consumer_refusal",
                                     "SELECT pgqrs_worker_refusal($1, $2, true)"};
constexpr Statement kSettleLeases{"settle_leases",
                                  "SELECT refusal, id, token, applied FROM "
                                  "pgqrs_settle_leases($1, $2, $3, $4::int8[], $5::int8[], $6)"};
constexpr Statement kGetMessages{"get_messages",
                                 "SELECT " PGQRS_MESSAGE_COLUMNS
                                 " FROM pgqrs_messages m "
                                 "JOIN pgqrs_queues q ON q.id = m.queue_id "
                                 "WHERE m.queue_id = $1 AND m.id = ANY($2::int8[])"};
// Records the dead letters that so far are dead only because their final lease expired.
constexpr Statement kSettleDead{
    "settle_dead",
    "UPDATE pgqrs_messages SET state = 1, lease_token = NULL, consumer_worker_id = NULL "
    "WHERE queue_id = $1 AND state = 0 "
    "AND lease_token IS NOT NULL AND vt <= now() AND read_ct >= $2"};
constexpr Statement kListDead{
    "list_dead", "SELECT " PGQRS_MESSAGE_COLUMNS
                 " FROM pgqrs_messages m "
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

// Reads a leased message from `rows`, whose columns from `first` on are
// PGQRS_LEASED_COLUMNS.
Message ReadLeased(const Rows& rows, int row, int first, const std::string& queue) {
  Message m;
  m.id = rows.Int(row, first);
  m.queue = queue;
  m.payload_json = rows.Text(row, first + 1);
  m.enqueued_at = rows.Time(row, first + 2);
  m.visible_at = rows.Time(row, first + 3);
  m.read_count = static_cast<int32_t>(rows.Int(row, first + 4));
  m.priority = static_cast<int32_t>(rows.Int(row, first + 5));
  m.state = MessageState::kInFlight;
  m.lease = Lease{m.id, rows.Int(row, first + 6)};
  return m;
}

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

}  // namespace

absl::Status RefusalStatus(int64_t refusal, const std::string& queue, int64_t worker_id) {
  switch (static_cast<Refusal>(refusal)) {
    case Refusal::kNone:
      return absl::OkStatus();
    case Refusal::kQueueNotFound:
      return absl::NotFoundError(absl::StrCat("queue ", queue, " not found"));
    case Refusal::kTriggerQueue:
      return TriggerQueueRefused(queue);
    case Refusal::kWorkerNotFound:
      return absl::NotFoundError(absl::StrCat("worker ", worker_id, " not found"));
    case Refusal::kWorkerStopped:
      return absl::FailedPreconditionError(absl::StrCat("worker ", worker_id, " is stopped"));
    case Refusal::kWorkerOfAnotherQueue:
      return absl::InvalidArgumentError(
          absl::StrCat("worker ", worker_id, " is registered for another queue"));
    case Refusal::kWorkerNotReady:
      return absl::FailedPreconditionError(
          absl::StrCat("worker ", worker_id, " is suspended or interrupted and may not dequeue"));
  }
  return absl::InternalError(absl::StrCat("postgres: unknown refusal code ", refusal));
}

absl::StatusOr<std::vector<int64_t>> PostgresStore::Enqueue(const std::string& queue,
                                                            std::span<const NewMessage> messages,
                                                            int64_t producer_worker_id) {
  if (messages.empty()) return absl::InvalidArgumentError("enqueue needs at least one message");
  PGQRS_RETURN_IF_ERROR(CheckBatch(messages.size()));
  PGQRS_RETURN_IF_ERROR(CheckDedupKeys(messages));
  PGQRS_ASSIGN_OR_RETURN(BatchPlan plan, PlanBatch(messages));
  bool visible_now = std::any_of(messages.begin(), messages.end(), [](const NewMessage& m) {
    return m.delay <= absl::ZeroDuration();
  });
  std::vector<int64_t> delays;
  std::vector<int32_t> priorities;
  std::vector<std::optional<std::string>> payloads, dedup;
  for (size_t pos : plan.inserted) {
    const NewMessage& m = messages[pos];
    payloads.push_back(m.payload_json);
    priorities.push_back(m.priority);
    delays.push_back(absl::ToInt64Microseconds(m.delay));
    dedup.push_back(m.dedup_key.empty() ? std::nullopt : std::optional(m.dedup_key));
  }
  bool keyless = std::all_of(dedup.begin(), dedup.end(), [](const auto& k) { return !k; });
  bool plain = producer_worker_id == 0 && keyless;
  Params params;
  params.Add(queue);
  if (!plain) params.Add(producer_worker_id);
  params.AddArray(payloads).AddArray(priorities).AddArray(delays);
  if (!plain) params.AddArray(dedup);
  // The wake-up goes out even when every row was a duplicate: a needless wake costs a poll.
  PGQRS_ASSIGN_OR_RETURN(
      Rows rows, Call(plain ? kPlainEnqueue : kEnqueue, params, visible_now ? &queue : nullptr));
  // Both answer (refusal, id) rows; the refusal comes first, in a row without an id.
  PGQRS_RETURN_IF_ERROR(RefusalStatus(rows.Int(0, 0), queue, producer_worker_id));
  std::vector<int64_t> stored;
  for (int i = 0; i < rows.size(); ++i) {
    if (!rows.IsNull(i, 1)) stored.push_back(rows.Int(i, 1));
  }
  if (stored.size() != plan.inserted.size()) {
    return absl::InternalError("postgres: enqueue returned the wrong number of ids");
  }
  std::vector<int64_t> ids(messages.size());
  for (size_t k = 0; k < plan.inserted.size(); ++k) ids[plan.inserted[k]] = stored[k];
  for (size_t i = 0; i < messages.size(); ++i) ids[i] = ids[plan.first_with_key[i]];
  return ids;
}

absl::Status ClaimConsumer(Tx& tx, int64_t worker_id, int64_t queue_id) {
  PGQRS_ASSIGN_OR_RETURN(Rows rows,
                         tx.Query(kConsumerRefusal, Params().Add(worker_id).Add(queue_id)));
  return RefusalStatus(rows.Int(0, 0), "", worker_id);
}

absl::StatusOr<std::vector<Message>> LeaseVisible(Tx& tx, const std::string& queue,
                                                  const QueueRow& q, int32_t max_messages,
                                                  absl::Duration timeout, int64_t consumer) {
  PGQRS_ASSIGN_OR_RETURN(std::vector<int64_t> tokens, NewLeaseTokens(max_messages));
  Params params;
  params.Add(q.id).Add(int64_t{q.max_read_count}).Add(int64_t{max_messages});
  params.Add(timeout).Add(consumer).AddArray(tokens);
  PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.Query(kLeaseVisible, params));
  std::vector<Message> leased;
  for (int i = 0; i < rows.size(); ++i) leased.push_back(ReadLeased(rows, i, 0, queue));
  return leased;
}

namespace {

// The visibility timeout parameter of a dequeue: NULL for the queue's own.
void AddTimeout(Params& params, const DequeueOptions& options) {
  if (options.visibility_timeout.has_value()) {
    params.Add(*options.visibility_timeout);
  } else {
    params.AddNull();
  }
}

}  // namespace

absl::StatusOr<std::optional<std::vector<Message>>> PostgresStore::PlainDequeue(
    const std::string& queue, const DequeueOptions& options, const std::vector<int64_t>& tokens) {
  Params params;
  params.Add(queue).Add(int64_t{options.max_messages});
  AddTimeout(params, options);
  params.AddArray(tokens);
  PGQRS_ASSIGN_OR_RETURN(Rows rows, Call(kPlainDequeue, params));
  // The header row comes first: (refusal, dead_letters_first, NULLs...).
  PGQRS_RETURN_IF_ERROR(RefusalStatus(rows.Int(0, 0), queue, 0));
  if (rows.Bool(0, 1)) return std::nullopt;
  std::vector<Message> leased;
  for (int i = 1; i < rows.size(); ++i) leased.push_back(ReadLeased(rows, i, 3, queue));
  return leased;
}

absl::StatusOr<std::vector<Message>> PostgresStore::Dequeue(const std::string& queue,
                                                            const DequeueOptions& options) {
  if (options.max_messages <= 0) return absl::InvalidArgumentError("max_messages must be positive");
  PGQRS_RETURN_IF_ERROR(CheckBatch(options.max_messages));
  if (options.visibility_timeout.has_value() &&
      *options.visibility_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("visibility timeout must not be negative");
  }
  PGQRS_ASSIGN_OR_RETURN(std::vector<int64_t> tokens, NewLeaseTokens(options.max_messages));
  if (options.consumer_worker_id == 0) {
    PGQRS_ASSIGN_OR_RETURN(std::optional<std::vector<Message>> leased,
                           PlainDequeue(queue, options, tokens));
    if (leased.has_value()) return *std::move(leased);
  }
  Params params;
  params.Add(queue).Add(options.consumer_worker_id).Add(int64_t{options.max_messages});
  AddTimeout(params, options);
  params.AddArray(tokens);
  PGQRS_ASSIGN_OR_RETURN(Rows rows, Call(kDequeue, params));
  if (rows.size() > 0) {
    PGQRS_RETURN_IF_ERROR(RefusalStatus(rows.Int(0, 0), queue, options.consumer_worker_id));
  }
  std::vector<Message> leased;
  for (int i = 0; i < rows.size(); ++i) leased.push_back(ReadLeased(rows, i, 1, queue));
  return leased;
}

absl::StatusOr<std::vector<LeaseOutcome>> PostgresStore::ApplyLeases(
    const LeaseCall& call, const std::string& queue, std::span<const Lease> leases) {
  PGQRS_RETURN_IF_ERROR(CheckBatch(leases.size()));
  std::vector<int64_t> ids, tokens;
  for (const Lease& lease : leases) {
    ids.push_back(lease.message_id);
    tokens.push_back(lease.token);
  }
  // An ack (the lifecycle's) is a plain statement; the other actions call the function.
  bool plain = std::string_view(call.action) == "ack";
  Params params;
  if (!plain) params.Add(call.action);
  params.Add(queue);
  if (!plain) params.Add(call.trigger == TriggerQueue::kAllow ? "true" : "false");
  params.AddArray(ids).AddArray(tokens);
  if (!plain) params.Add(call.duration);
  PGQRS_ASSIGN_OR_RETURN(
      Rows rows, Call(plain ? kPlainAck : kSettleLeases, params, call.wakes ? &queue : nullptr));
  // Rows name the leases the call applied to, then the messages that the other leases
  // name (lost rather than not found). A row without an id holds the refusal code.
  std::set<std::pair<int64_t, int64_t>> ok;
  std::set<int64_t> known;
  for (int i = 0; i < rows.size(); ++i) {
    if (rows.IsNull(i, 1)) {
      PGQRS_RETURN_IF_ERROR(RefusalStatus(rows.Int(i, 0), queue, 0));
    } else if (rows.Bool(i, 3)) {
      ok.insert({rows.Int(i, 1), rows.Int(i, 2)});
    } else {
      known.insert(rows.Int(i, 1));
    }
  }
  std::vector<LeaseOutcome> outcomes;
  std::set<std::pair<int64_t, int64_t>> used;
  for (const Lease& lease : leases) {
    std::pair<int64_t, int64_t> key{lease.message_id, lease.token};
    // A lease the call ended counts once; a repeat of it in the batch finds it gone.
    if (ok.contains(key) && (call.lease_survives || used.insert(key).second)) {
      outcomes.push_back(LeaseOutcome::kOk);
    } else if (known.contains(lease.message_id) || ok.contains(key)) {
      outcomes.push_back(LeaseOutcome::kLeaseLost);
    } else {
      outcomes.push_back(LeaseOutcome::kNotFound);
    }
  }
  return outcomes;
}

absl::StatusOr<std::vector<LeaseOutcome>> PostgresStore::Ack(const std::string& queue,
                                                             std::span<const Lease> leases) {
  return ApplyLeases({.action = "ack"}, queue, leases);
}

absl::StatusOr<std::vector<LeaseOutcome>> PostgresStore::Delete(const std::string& queue,
                                                                std::span<const Lease> leases) {
  return ApplyLeases({.action = "delete"}, queue, leases);
}

absl::StatusOr<std::vector<LeaseOutcome>> PostgresStore::Nack(const std::string& queue,
                                                              std::span<const Lease> leases,
                                                              absl::Duration delay) {
  if (delay < absl::ZeroDuration()) return absl::InvalidArgumentError("delay must not be negative");
  // Only a message visible at once is worth waking other daemons for.
  return ApplyLeases({.action = "nack", .duration = delay, .wakes = delay <= absl::ZeroDuration()},
                     queue, leases);
}

absl::StatusOr<std::vector<LeaseOutcome>> PostgresStore::ExtendVisibility(
    const std::string& queue, std::span<const Lease> leases, absl::Duration timeout) {
  if (timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("visibility timeout must not be negative");
  }
  return ApplyLeases({.action = "extend", .lease_survives = true, .duration = timeout}, queue,
                     leases);
}

absl::StatusOr<std::vector<LeaseOutcome>> PostgresStore::ReturnLeases(
    const std::string& queue, std::span<const Lease> leases) {
  return ApplyLeases({.action = "return", .trigger = TriggerQueue::kAllow, .wakes = true}, queue,
                     leases);
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
