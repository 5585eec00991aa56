// PostgresStore: opening, transactions, queues and counts.
#include "storage/postgres/postgres_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "spdlog/spdlog.h"
#include "storage/checks.h"
#include "storage/postgres/plain_calls.h"
#include "storage/postgres/store_impl.h"

namespace pgqrs::storage {
namespace pg {
namespace {

// A live message is pending when visible, unless its final lease expired (then it is dead).
#define PGQRS_PENDING                                                 \
  "m.state = 0 AND m.vt <= now() AND NOT (m.lease_token IS NOT NULL " \
  "AND m.read_ct >= q.max_read_count)"
#define PGQRS_COUNTS                                                                     \
  "count(*) FILTER (WHERE " PGQRS_PENDING                                                \
  "), "                                                                                  \
  "count(*) FILTER (WHERE m.state = 0 AND m.vt > now() AND m.lease_token IS NULL), "     \
  "count(*) FILTER (WHERE m.state = 0 AND m.vt > now() AND m.lease_token IS NOT NULL), " \
  "count(*) FILTER (WHERE m.state = 1 OR (m.state = 0 AND m.vt <= now() "                \
  "  AND m.lease_token IS NOT NULL AND m.read_ct >= q.max_read_count)), "                \
  "count(*) FILTER (WHERE m.state = 2), "                                                \
  "coalesce((extract(epoch from now() - min(m.enqueued_at) FILTER (WHERE " PGQRS_PENDING \
  ")) * 1000000)::int8, 0)"

constexpr Statement kFindQueue{
    "find_queue",
    "SELECT id, max_read_count, visibility_timeout_ms FROM pgqrs_queues WHERE queue_name = $1"};
constexpr Statement kTriggerQueue{"trigger_queue",
                                  "SELECT 1 FROM pgqrs_workflows WHERE queue_id = $1"};
constexpr Statement kLockQueue{"lock_queue",
                               "SELECT id, max_read_count, visibility_timeout_ms FROM "
                               "pgqrs_queues WHERE queue_name = $1 FOR UPDATE"};
#define PGQRS_QUEUE_COLUMNS \
  "id, queue_name, max_read_count, visibility_timeout_ms, " PGQRS_US("created_at")
constexpr Statement kInsertQueue{
    "insert_queue",
    "INSERT INTO pgqrs_queues (queue_name, max_read_count, visibility_timeout_ms) "
    "VALUES ($1, $2, $3) ON CONFLICT (queue_name) DO NOTHING RETURNING " PGQRS_QUEUE_COLUMNS};
constexpr Statement kGetQueue{
    "get_queue", "SELECT " PGQRS_QUEUE_COLUMNS " FROM pgqrs_queues WHERE queue_name = $1"};
constexpr Statement kListQueues{"list_queues", "SELECT " PGQRS_QUEUE_COLUMNS
                                               " FROM pgqrs_queues WHERE queue_name > $1 "
                                               "ORDER BY queue_name LIMIT $2"};
constexpr Statement kQueueBusy{
    "queue_busy",
    "SELECT EXISTS (SELECT 1 FROM pgqrs_messages WHERE queue_id = $1 AND state <> 2), "
    "EXISTS (SELECT 1 FROM pgqrs_workers WHERE queue_id = $1 AND status <> 4)"};
constexpr Statement kPurgeQueue{"purge_queue", "DELETE FROM pgqrs_messages WHERE queue_id = $1"};
constexpr Statement kDeleteQueueWorkers{"delete_queue_workers",
                                        "DELETE FROM pgqrs_workers WHERE queue_id = $1"};
constexpr Statement kDeleteQueue{"delete_queue", "DELETE FROM pgqrs_queues WHERE id = $1"};
constexpr Statement kQueueCounts{"queue_counts",
                                 "SELECT " PGQRS_COUNTS
                                 " FROM pgqrs_queues q "
                                 "LEFT JOIN pgqrs_messages m ON m.queue_id = q.id WHERE q.id = $1"};
constexpr Statement kSystemCounts{
    "system_counts",
    "SELECT (SELECT count(*) FROM pgqrs_queues), (SELECT count(*) FROM pgqrs_workers), "
    "(SELECT count(*) FROM pgqrs_workers WHERE status <> 4), " PGQRS_COUNTS
    " FROM pgqrs_messages m JOIN pgqrs_queues q ON q.id = m.queue_id"};
constexpr Statement kNotify{"notify", "SELECT pg_notify('pgqrs_wake', $1)"};
// A wake-up in a transaction of its own. A NOTIFY holds a database-wide lock from before
// its commit until after it, so with the commit's fsync inside that window every
// notifying transaction would commit alone. Losing a wake-up in a crash is harmless: the
// listeners re-check every queue when they reconnect.
constexpr Statement kWakeAsync{
    "wake_async",
    "SELECT set_config('synchronous_commit', 'off', true), pg_notify('pgqrs_wake', $1)"};

QueueInfo ReadQueueInfo(const Rows& rows, int row) {
  QueueInfo info;
  info.id = rows.Int(row, 0);
  info.name = rows.Text(row, 1);
  info.max_read_count = static_cast<int32_t>(rows.Int(row, 2));
  info.visibility_timeout = absl::Milliseconds(rows.Int(row, 3));
  info.created_at = rows.Time(row, 4);
  return info;
}

QueueCounts ReadCounts(const Rows& rows, int row, int first) {
  QueueCounts counts;
  counts.pending = rows.Int(row, first);
  counts.delayed = rows.Int(row, first + 1);
  counts.in_flight = rows.Int(row, first + 2);
  counts.dead = rows.Int(row, first + 3);
  counts.archived = rows.Int(row, first + 4);
  counts.oldest_pending_age = absl::Microseconds(rows.Int(row, first + 5));
  return counts;
}

}  // namespace

PostgresStore::PostgresStore(std::string schema, std::unique_ptr<PgPool> pool,
                             PostgresOptions options)
    : schema_(std::move(schema)),
      begin_sql_(
          absl::StrCat("BEGIN; SET LOCAL search_path TO ", QuoteIdentifier(schema_),
                       "; SET LOCAL plan_cache_mode = force_custom_plan; SET LOCAL jit = off; "
                       "SET LOCAL statement_timeout = ",
                       absl::ToInt64Milliseconds(options.statement_timeout))),
      call_settings_(Params()
                         .Add(QuoteIdentifier(schema_))
                         .Add(absl::StrCat(absl::ToInt64Milliseconds(options.statement_timeout)))),
      pool_(std::move(pool)),
      options_(std::move(options)) {}

// The listener goes first: its handler may call back into the pool.
PostgresStore::~PostgresStore() { listener_.reset(); }

absl::Status PostgresStore::Transact(const std::function<absl::Status(Tx&)>& body) {
  return pool_->Transact(begin_sql_, body);
}

absl::StatusOr<Rows> PostgresStore::Call(const Statement& statement, const Params& params,
                                         const std::string* wake_queue) {
  FlightStatement flight[] = {{kCallSettings, call_settings_}, {statement, params}};
  if (wake_queue == nullptr) return pool_->Flight(flight);
  Params payload = Params().Add(WakePayload(*wake_queue));
  FlightStatement wake[] = {{kWakeAsync, payload}};
  return pool_->Flight(flight, wake);
}

std::string PostgresStore::WakePayload(const std::string& queue) const {
  return absl::StrCat(schema_, ".", queue);
}

absl::StatusOr<QueueRow> PostgresStore::FindQueue(Tx& tx, const std::string& name, bool lock) {
  PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.Query(lock ? kLockQueue : kFindQueue, Params().Add(name)));
  if (rows.size() == 0) return absl::NotFoundError(absl::StrCat("queue ", name, " not found"));
  return QueueRow{rows.Int(0, 0), static_cast<int32_t>(rows.Int(0, 1)),
                  absl::Milliseconds(rows.Int(0, 2))};
}

absl::StatusOr<QueueRow> PostgresStore::FindPlainQueue(Tx& tx, const std::string& name, bool lock) {
  PGQRS_ASSIGN_OR_RETURN(QueueRow row, FindQueue(tx, name, lock));
  PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.Query(kTriggerQueue, Params().Add(row.id)));
  if (rows.size() > 0) return TriggerQueueRefused(name);
  return row;
}

absl::Status PostgresStore::Notify(Tx& tx, const std::string& queue) {
  return tx.Query(kNotify, Params().Add(WakePayload(queue))).status();
}

absl::StatusOr<QueueInfo> PostgresStore::CreateQueue(const QueueOptions& options) {
  PGQRS_RETURN_IF_ERROR(CheckText("name", options.name));
  if (options.name.empty() || options.max_read_count <= 0 ||
      options.visibility_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "queue needs a name, max_read_count > 0 and a non-negative visibility timeout");
  }
  QueueInfo info;
  PGQRS_RETURN_IF_ERROR(Transact([&](Tx& tx) -> absl::Status {
    Params params;
    params.Add(options.name)
        .Add(int64_t{options.max_read_count})
        .Add(absl::ToInt64Milliseconds(options.visibility_timeout));
    PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.Query(kInsertQueue, params));
    if (rows.size() == 1) {
      info = ReadQueueInfo(rows, 0);
      return absl::OkStatus();
    }
    if (!options.if_not_exists) {
      return absl::AlreadyExistsError(absl::StrCat("queue ", options.name, " already exists"));
    }
    PGQRS_ASSIGN_OR_RETURN(Rows existing, tx.Query(kGetQueue, Params().Add(options.name)));
    if (existing.size() == 0) return absl::AbortedError("queue vanished while creating it");
    info = ReadQueueInfo(existing, 0);
    return absl::OkStatus();
  }));
  return info;
}

absl::StatusOr<QueueInfo> PostgresStore::GetQueue(const std::string& name) {
  QueueInfo info;
  PGQRS_RETURN_IF_ERROR(Transact([&](Tx& tx) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.Query(kGetQueue, Params().Add(name)));
    if (rows.size() == 0) return absl::NotFoundError(absl::StrCat("queue ", name, " not found"));
    info = ReadQueueInfo(rows, 0);
    return absl::OkStatus();
  }));
  return info;
}

absl::StatusOr<std::vector<QueueInfo>> PostgresStore::ListQueues(const std::string& after_name,
                                                                 int32_t limit) {
  if (limit <= 0) return absl::InvalidArgumentError("limit must be positive");
  int64_t bounded = std::min<int64_t>(limit, kMaxBatch);
  std::vector<QueueInfo> queues;
  PGQRS_RETURN_IF_ERROR(Transact([&](Tx& tx) -> absl::Status {
    queues.clear();
    PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.Query(kListQueues, Params().Add(after_name).Add(bounded)));
    for (int i = 0; i < rows.size(); ++i) queues.push_back(ReadQueueInfo(rows, i));
    return absl::OkStatus();
  }));
  return queues;
}

absl::Status PostgresStore::DeleteQueue(const std::string& name, bool force) {
  return Transact([&](Tx& tx) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(QueueRow queue, FindPlainQueue(tx, name, /*lock=*/true));
    Params id = Params().Add(queue.id);
    if (!force) {
      PGQRS_ASSIGN_OR_RETURN(Rows busy, tx.Query(kQueueBusy, id));
      if (busy.Bool(0, 0)) {
        return absl::FailedPreconditionError(
            absl::StrCat("queue ", name, " has unarchived messages; purge it or force"));
      }
      if (busy.Bool(0, 1)) {
        return absl::FailedPreconditionError(
            absl::StrCat("queue ", name, " has workers that are not stopped"));
      }
    }
    PGQRS_RETURN_IF_ERROR(tx.Query(kPurgeQueue, id).status());
    PGQRS_RETURN_IF_ERROR(tx.Query(kDeleteQueueWorkers, id).status());
    return tx.Query(kDeleteQueue, id).status();
  });
}

absl::StatusOr<int64_t> PostgresStore::PurgeQueue(const std::string& name) {
  int64_t purged = 0;
  PGQRS_RETURN_IF_ERROR(Transact([&](Tx& tx) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(QueueRow queue, FindPlainQueue(tx, name));
    PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.Query(kPurgeQueue, Params().Add(queue.id)));
    purged = rows.Affected();
    return absl::OkStatus();
  }));
  return purged;
}

absl::StatusOr<QueueCounts> PostgresStore::GetQueueCounts(const std::string& name) {
  QueueCounts counts;
  PGQRS_RETURN_IF_ERROR(Transact([&](Tx& tx) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(QueueRow queue, FindQueue(tx, name));
    PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.Query(kQueueCounts, Params().Add(queue.id)));
    counts = ReadCounts(rows, 0, 0);
    return absl::OkStatus();
  }));
  return counts;
}

absl::StatusOr<std::vector<NamedQueueCounts>> PostgresStore::ListQueueCounts(
    const std::string& after_name, int32_t limit) {
  return ListQueueCountsEach(*this, after_name, limit);
}

absl::StatusOr<SystemCounts> PostgresStore::GetSystemCounts() {
  SystemCounts counts;
  PGQRS_RETURN_IF_ERROR(Transact([&](Tx& tx) -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(Rows rows, tx.Query(kSystemCounts));
    counts.queues = rows.Int(0, 0);
    counts.workers = rows.Int(0, 1);
    counts.workers_live = rows.Int(0, 2);
    counts.messages = ReadCounts(rows, 0, 3);
    return absl::OkStatus();
  }));
  return counts;
}

absl::StatusOr<std::vector<std::string>> PostgresStore::AllQueueNames() {
  std::vector<std::string> names;
  std::string after;
  while (true) {
    PGQRS_ASSIGN_OR_RETURN(std::vector<QueueInfo> page, ListQueues(after, 1000));
    for (const QueueInfo& q : page) names.push_back(q.name);
    if (page.size() < 1000) return names;
    after = page.back().name;
  }
}

void PostgresStore::SetRemoteWakeHandler(std::function<void(const std::string&)> handler) {
  PoolOptions backoff;
  backoff.backoff_initial = options_.backoff_initial;
  backoff.backoff_max = options_.backoff_max;
  ConnSettings settings = pool_->settings();
  Redactor redactor = pool_->redactor();
  if (!options_.listen_dsn.empty()) {
    settings.conninfo = options_.listen_dsn;
    redactor = Redactor(options_.listen_dsn);
  } else if (pool_->mode() == StatementMode::kUnnamed) {
    spdlog::warn(
        "postgres: this DSN looks pooled (PgBouncer?); LISTEN needs a session, so set a "
        "direct listen DSN or cross-daemon wake-ups may be missed");
  }
  listener_ =
      std::make_unique<PgListener>(std::move(settings), std::move(redactor), schema_, backoff,
                                   std::move(handler), [this] { return AllQueueNames(); });
}

// Commits are the PostgreSQL server's; it reports them (pg_stat_wal, pg_stat_database).
std::optional<CommitStats> PostgresStore::GetCommitStats() { return std::nullopt; }

}  // namespace pg

absl::StatusOr<std::unique_ptr<Store>> OpenPostgresStore(const Dsn& dsn,
                                                         const PostgresOptions& options) {
  if (dsn.backend != Backend::kPostgres) {
    return absl::InvalidArgumentError("OpenPostgresStore needs a postgres:// DSN");
  }
  if (options.pool_size <= 0) return absl::InvalidArgumentError("pool_size must be positive");
  auto it = dsn.options.find("schema");
  std::string schema = it == dsn.options.end() ? "public" : it->second;
  PGQRS_RETURN_IF_ERROR(pg::ValidateSchemaName(schema));

  pg::ConnSettings settings;
  settings.conninfo = dsn.conninfo;
  settings.connect_timeout_seconds =
      std::max<int>(2, static_cast<int>(absl::ToInt64Seconds(options.connect_timeout)));
  pg::PoolOptions pool_options;
  pool_options.size = options.pool_size;
  pool_options.acquire_timeout = options.acquire_timeout;
  pool_options.backoff_initial = options.backoff_initial;
  pool_options.backoff_max = options.backoff_max;
  pool_options.max_retries = options.max_retries;
  if (options.prepared_statements.has_value()) {
    pool_options.statement_mode =
        *options.prepared_statements ? pg::StatementMode::kPrepared : pg::StatementMode::kUnnamed;
  }
  auto pool = std::make_unique<pg::PgPool>(settings, pg::Redactor(dsn.conninfo), pool_options);
  PGQRS_RETURN_IF_ERROR(pool->Prime());
  return std::unique_ptr<Store>(
      std::make_unique<pg::PostgresStore>(std::move(schema), std::move(pool), options));
}

}  // namespace pgqrs::storage
