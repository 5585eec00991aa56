#include "tests/storage/engine/workload.h"

#include <sqlite3.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/storage/conformance/helpers.h"

namespace pgqrs::testing {
namespace {

using storage::Lease;
using storage::LeaseOutcome;
using storage::RunStatus;
using storage::StepOutcome;

constexpr char kQueue[] = "jobs";
constexpr char kFlow[] = "flow";

storage::RunLease ClaimRun(storage::Store& store, int64_t worker_id) {
  storage::ClaimOptions options;
  options.visibility_timeout = absl::Hours(1);
  options.worker_id = worker_id;
  storage::ClaimResult claimed = Ok(store.ClaimRun(kFlow, options));
  REQUIRE(claimed.run.has_value());
  return {claimed.run->id, claimed.lease};
}

const char* StateName(storage::MessageState s) {
  switch (s) {
    case storage::MessageState::kPending:
      return "pending";
    case storage::MessageState::kDelayed:
      return "delayed";
    case storage::MessageState::kInFlight:
      return "in_flight";
    case storage::MessageState::kDead:
      return "dead";
    case storage::MessageState::kArchived:
      return "archived";
  }
  return "?";
}

}  // namespace

Population Populate(storage::Store& store) {
  Population p;
  MakeQueue(store, kQueue, /*max_read_count=*/1, absl::Hours(1));
  std::vector<storage::NewMessage> batch = {Msg(R"({"n":1})", 5),
                                            Msg(R"({"n":2})"),
                                            Msg(R"({"n":3})", 0, absl::Hours(1)),
                                            Msg(R"({"n":4})", 0, absl::ZeroDuration(), "key-4"),
                                            Msg(R"({"n":5})", -1),
                                            Msg(R"({"n":6})", -2)};
  p.message_ids = Ok(store.Enqueue(kQueue, batch, 0));
  storage::WorkerRegistration reg;
  reg.name = "consumer-1";
  reg.queue = kQueue;
  reg.role = storage::WorkerRole::kConsumer;
  reg.labels = {{"zone", "a"}};
  p.worker_id = Ok(store.RegisterWorker(reg)).id;
  // n=1 (priority 5) goes in flight under the worker; n=2 is acked (archived).
  std::vector<storage::Message> leased = DequeueN(store, kQueue, 2, absl::Hours(1), p.worker_id);
  REQUIRE(leased.size() == 2);
  p.in_flight = *leased[0].lease;
  REQUIRE(AckOne(store, kQueue, *leased[1].lease) == LeaseOutcome::kOk);
  // n=5 is read once (max_read_count 1) and nacked: a dead letter.
  std::vector<storage::Message> once = DequeueN(store, kQueue, 2, absl::Hours(1));
  REQUIRE(once.size() == 2);  // n=4, then n=5
  std::vector<Lease> nack = {*once[1].lease};
  REQUIRE(Ok(store.Nack(kQueue, nack, absl::ZeroDuration()))[0] == LeaseOutcome::kOk);

  storage::WorkflowOptions flow;
  flow.name = kFlow;
  Ok(store.CreateWorkflow(flow));
  int64_t first = Ok(store.StartRun({kFlow, R"({"order":1})", "order-1"})).run.id;
  p.queued_run = Ok(store.StartRun({kFlow, R"({"order":2})", ""})).run.id;
  p.running = ClaimRun(store, 0);
  REQUIRE(p.running.run_id == first);
  REQUIRE(Ok(store.BeginStep(p.running, "fetch")).outcome == StepOutcome::kStarted);
  Ok(store.CompleteStep(p.running, "fetch", R"({"fetched":true})"));
  REQUIRE(Ok(store.BeginStep(p.running, "store")).outcome == StepOutcome::kStarted);
  return p;
}

void Continue(storage::Store& store, Population& p) {
  RequireOk(store.Migrate().status());
  CHECK(AckOne(store, kQueue, p.in_flight) == LeaseOutcome::kOk);
  CHECK(Ok(store.Heartbeat(p.worker_id)).status == storage::WorkerStatus::kPolling);
  // The key of an unarchived message dedups; the batch stores only the new one.
  std::vector<storage::NewMessage> more = {Msg(R"({"n":4})", 0, absl::ZeroDuration(), "key-4"),
                                           Msg(R"({"n":7})")};
  std::vector<int64_t> ids = Ok(store.Enqueue(kQueue, more, 0));
  CHECK(ids[0] == p.message_ids[3]);
  CHECK(ids[1] > p.message_ids.back());
  p.message_ids.push_back(ids[1]);
  std::vector<int64_t> all;
  CHECK(Ok(store.Redrive(kQueue, all)) == 1);

  // The step completed before the move replays; the one begun then starts again here.
  CHECK(Ok(store.BeginStep(p.running, "fetch")).outcome == StepOutcome::kCompleted);
  CHECK(Ok(store.BeginStep(p.running, "store")).outcome == StepOutcome::kStarted);
  Ok(store.CompleteStep(p.running, "store", R"({"stored":1})"));
  CHECK(Ok(store.CompleteRun(p.running, R"({"done":1})")).status == RunStatus::kSucceeded);
  storage::RunLease next = ClaimRun(store, 0);
  CHECK(next.run_id == p.queued_run);
  CHECK(Ok(store.FailRun(next, R"({"why":"test"})")).status == RunStatus::kFailed);
  CHECK(Ok(store.StartRun({kFlow, R"({"order":1})", "order-1"})).created == false);

  storage::VerifyReport report = Ok(store.Verify());
  INFO(absl::StrJoin(report.problems, "\n"));
  CHECK(report.problems.empty());
  CHECK(report.schema_version == 3);
}

std::string Dump(storage::Store& store, const Population& p) {
  std::string out;
  for (const std::string& name : {std::string(kQueue), std::string(kFlow)}) {
    storage::QueueInfo q = Ok(store.GetQueue(name));
    absl::StrAppend(&out, "queue ", q.id, " ", q.name, " ", q.max_read_count, " ",
                    absl::FormatDuration(q.visibility_timeout), " ", absl::FormatTime(q.created_at),
                    "\n");
    storage::QueueCounts c = Ok(store.GetQueueCounts(name));
    absl::StrAppend(&out, "counts ", c.pending, " ", c.delayed, " ", c.in_flight, " ", c.dead, " ",
                    c.archived, "\n");
  }
  for (const storage::Message& m : Ok(store.GetMessages(kQueue, p.message_ids))) {
    absl::StrAppend(&out, "message ", m.id, " ", m.payload_json, " ", StateName(m.state), " ",
                    m.read_count, " ", m.priority, " ", absl::FormatTime(m.enqueued_at), " ",
                    absl::FormatTime(m.visible_at), "\n");
  }
  for (const storage::WorkerInfo& w : Ok(store.ListWorkers({}))) {
    absl::StrAppend(&out, "worker ", w.id, " ", w.name, " ", w.queue, " ",
                    static_cast<int>(w.status), " ", w.labels.size(), " ", w.leased_messages, " ",
                    absl::FormatTime(w.heartbeat_at), "\n");
  }
  storage::RunFilter all;
  for (const storage::RunInfo& r : Ok(store.ListRuns(all))) {
    absl::StrAppend(&out, "run ", r.id, " ", r.workflow, " ", static_cast<int>(r.status), " ",
                    r.input_json, " ", r.output_json, " ", r.error_json, " ", r.idempotency_key,
                    " ", r.worker_id, " ", absl::FormatTime(r.updated_at), "\n");
    for (const storage::StepInfo& s : Ok(store.ListSteps(StepsOf(r.id)))) {
      absl::StrAppend(&out, "  step ", s.name, " ", static_cast<int>(s.status), " ", s.output_json,
                      " ", s.attempts, " ", absl::FormatTime(s.started_at), "\n");
    }
  }
  return out;
}

std::vector<std::string> SqliteRows(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  INFO(sqlite3_errmsg(db));
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
  std::vector<std::string> rows;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    std::string row;
    for (int i = 0; i < sqlite3_column_count(st); ++i) {
      const unsigned char* text = sqlite3_column_text(st, i);
      absl::StrAppend(&row, i ? "|" : "", text ? reinterpret_cast<const char*>(text) : "NULL");
    }
    rows.push_back(row);
  }
  CHECK(rc == SQLITE_DONE);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return rows;
}

std::vector<std::string> SqliteIntegrityCheck(const std::string& path) {
  return SqliteRows(path, "PRAGMA integrity_check");
}

std::vector<std::string> SqliteForeignKeyCheck(const std::string& path) {
  return SqliteRows(path, "PRAGMA foreign_key_check");
}

}  // namespace pgqrs::testing
