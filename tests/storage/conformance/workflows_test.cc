// Conformance: durable workflows. Runs ride on their workflow's queue; the run lease
// guards every write; completed steps replay; retries, pause and cancel behave as
// store.h states.
#include <map>

#include "tests/storage/conformance/helpers.h"

namespace pgqrs::testing {
namespace {

using storage::BeginStepResult;
using storage::ClaimOptions;
using storage::ClaimResult;
using storage::RunInfo;
using storage::RunLease;
using storage::RunStatus;
using storage::StepFailure;
using storage::StepInfo;
using storage::StepOutcome;
using storage::StepStatus;
using Code = absl::StatusCode;

storage::WorkflowInfo MakeWorkflow(storage::Store& store, const std::string& name,
                                   storage::RetryPolicy policy = {}) {
  storage::WorkflowOptions options;
  options.name = name;
  options.retry_policy = policy;
  return Ok(store.CreateWorkflow(options));
}

RunInfo Start(storage::Store& store, const std::string& workflow, const std::string& input,
              const std::string& key = "") {
  return Ok(store.StartRun({workflow, input, key})).run;
}

// Claims a run; REQUIREs that one was claimable.
RunLease Claim(storage::Store& store, const std::string& workflow,
               absl::Duration vt = absl::Seconds(30), int64_t worker = 0) {
  ClaimOptions options;
  options.visibility_timeout = vt;
  options.worker_id = worker;
  ClaimResult claimed = Ok(store.ClaimRun(workflow, options));
  REQUIRE(claimed.run.has_value());
  CHECK(claimed.run->status == RunStatus::kRunning);
  return {claimed.run->id, claimed.lease};
}

bool NothingToClaim(storage::Store& store, const std::string& workflow) {
  return !Ok(store.ClaimRun(workflow, {})).run.has_value();
}

// A worker's step: begin it, run `effect` only when STARTED, complete it. Returns the
// step's output, fresh or replayed.
std::string RunStep(storage::Store& store, const RunLease& lease, const std::string& name,
                    std::map<std::string, int>& effects) {
  BeginStepResult begun = Ok(store.BeginStep(lease, name));
  if (begun.outcome == StepOutcome::kCompleted) return begun.step.output_json;
  REQUIRE(begun.outcome == StepOutcome::kStarted);
  ++effects[name];
  std::string output = R"({"step":")" + name + R"("})";
  CHECK(Ok(store.CompleteStep(lease, name, output)).status == StepStatus::kCompleted);
  return output;
}

int64_t RegisterConsumer(storage::Store& store, const std::string& name, const std::string& queue) {
  storage::WorkerRegistration reg;
  reg.name = name;
  reg.queue = queue;
  reg.role = storage::WorkerRole::kConsumer;
  return Ok(store.RegisterWorker(reg)).id;
}

Code CodeOf(const absl::Status& status) { return status.code(); }

TEST_CASE("a workflow creates its trigger queue; names are unique", "[conformance][workflow]") {
  auto store = NewTestStore();
  storage::RetryPolicy policy;
  policy.max_attempts = 5;
  policy.base_backoff = absl::Milliseconds(100);
  policy.max_backoff = absl::Seconds(2);
  policy.jitter = 0.5;
  storage::WorkflowInfo w = MakeWorkflow(*store, "orders", policy);
  CHECK(w.name == "orders");
  CHECK(w.retry_policy.max_attempts == 5);
  CHECK(w.retry_policy.base_backoff == absl::Milliseconds(100));
  CHECK(w.retry_policy.max_backoff == absl::Seconds(2));
  CHECK(w.retry_policy.jitter == Approx(0.5));
  CHECK(Ok(store->GetQueue("orders")).name == "orders");

  storage::WorkflowOptions again;
  again.name = "orders";
  CHECK(CodeOf(store->CreateWorkflow(again).status()) == Code::kAlreadyExists);
  again.if_not_exists = true;
  CHECK(Ok(store->CreateWorkflow(again)).id == w.id);

  MakeQueue(*store, "plain");
  storage::WorkflowOptions clash;
  clash.name = "plain";
  CHECK(CodeOf(store->CreateWorkflow(clash).status()) == Code::kAlreadyExists);
  CHECK(CodeOf(store->GetWorkflow("plain").status()) == Code::kNotFound);

  MakeWorkflow(*store, "billing");
  auto all = Ok(store->ListWorkflows("", 10));
  REQUIRE(all.size() == 2);
  CHECK(all[0].name == "billing");
  CHECK(Ok(store->ListWorkflows("billing", 10)).size() == 1);
}

TEST_CASE("StartRun queues a run; the same idempotency key and input return it",
          "[conformance][workflow]") {
  auto store = NewTestStore();
  MakeWorkflow(*store, "wf");
  auto first = Ok(store->StartRun({"wf", R"({"n":1})", "key-1"}));
  CHECK(first.created);
  CHECK(first.run.status == RunStatus::kQueued);
  CHECK(SameJson(first.run.input_json, R"({"n":1})"));
  CHECK(first.run.idempotency_key == "key-1");
  // A retry: the same input as a JSON value (whitespace aside) returns the run.
  auto second = Ok(store->StartRun({"wf", R"( { "n" : 1 } )", "key-1"}));
  CHECK_FALSE(second.created);
  CHECK(second.run.id == first.run.id);
  CHECK(SameJson(second.run.input_json, R"({"n":1})"));
  // The key reused with other input is a client bug: ALREADY_EXISTS, nothing stored.
  absl::Status reused = store->StartRun({"wf", R"({"n":2})", "key-1"}).status();
  CHECK(reused.code() == Code::kAlreadyExists);
  CHECK(std::string(reused.message()).find("different input") != std::string::npos);
  CHECK(Start(*store, "wf", "{}").id != first.run.id);
  CHECK(Ok(store->ListRuns({"wf", std::nullopt, 0, 10})).size() == 2);
  CHECK(Ok(store->GetQueueCounts("wf")).pending == 2);
}

TEST_CASE("a claimed run is never handed out twice while its lease lives",
          "[conformance][workflow]") {
  auto store = NewTestStore();
  MakeWorkflow(*store, "wf");
  int64_t id = Start(*store, "wf", "{}").id;
  RunLease lease = Claim(*store, "wf");
  CHECK(lease.run_id == id);
  CHECK(NothingToClaim(*store, "wf"));
  CHECK(Ok(store->GetRun(id)).status == RunStatus::kRunning);
}

TEST_CASE("crash-resume: a dead worker's run resumes elsewhere, each step runs once",
          "[conformance][workflow]") {
  auto store = NewTestStore();
  MakeWorkflow(*store, "wf");
  int64_t run_id = Start(*store, "wf", R"({"order":7})").id;
  std::map<std::string, int> effects;

  // How worker A "dies": it stops heartbeating (the reaper releases its lease), or it
  // simply never acks and its lease expires.
  const bool lease_expires = GENERATE(false, true);
  INFO((lease_expires ? "lease expiry" : "heartbeat reaper"));
  int64_t a = RegisterConsumer(*store, "worker-a", "wf");
  RunLease lease_a =
      Claim(*store, "wf", lease_expires ? absl::Milliseconds(300) : absl::Seconds(30), a);
  CHECK(Ok(store->GetRun(run_id)).worker_id == a);
  std::string out1 = RunStep(*store, lease_a, "one", effects);
  std::string out2 = RunStep(*store, lease_a, "two", effects);
  CHECK(NothingToClaim(*store, "wf"));

  if (!lease_expires) {
    absl::SleepFor(absl::Milliseconds(5));
    auto report = Ok(store->ReclaimWorkers("wf", absl::Milliseconds(2)));
    CHECK(report.workers_stopped == 1);
    CHECK(report.messages_released == 1);
  }
  int64_t b = RegisterConsumer(*store, "worker-b", "wf");
  ClaimOptions options;
  options.worker_id = b;
  std::optional<ClaimResult> claimed;
  REQUIRE(WaitUntil([&] {
    claimed = Ok(store->ClaimRun("wf", options));
    return claimed->run.has_value();
  }));
  RunLease lease_b{claimed->run->id, claimed->lease};
  CHECK(lease_b.run_id == run_id);
  CHECK(Ok(store->GetRun(run_id)).worker_id == b);
  CHECK(SameJson(RunStep(*store, lease_b, "one", effects), out1));
  CHECK(SameJson(RunStep(*store, lease_b, "two", effects), out2));
  std::string out3 = RunStep(*store, lease_b, "three", effects);
  RunInfo done = Ok(store->CompleteRun(lease_b, R"({"ok":true})"));
  CHECK(done.status == RunStatus::kSucceeded);
  CHECK(SameJson(done.output_json, R"({"ok":true})"));
  CHECK(effects == std::map<std::string, int>{{"one", 1}, {"two", 1}, {"three", 1}});

  // The zombie wakes up and tries to write step three: refused, nothing changes.
  CHECK(CodeOf(store->BeginStep(lease_a, "three").status()) == Code::kFailedPrecondition);
  CHECK(CodeOf(store->CompleteStep(lease_a, "three", R"("zombie")").status()) ==
        Code::kFailedPrecondition);
  CHECK(CodeOf(store->CompleteRun(lease_a, "1").status()) == Code::kFailedPrecondition);
  auto steps = Ok(store->ListSteps(StepsOf(run_id)));
  REQUIRE(steps.size() == 3);
  CHECK(steps[2].name == "three");
  CHECK(SameJson(steps[2].output_json, out3));
  CHECK(SameJson(Ok(store->GetRun(run_id)).output_json, R"({"ok":true})"));
  CHECK(Ok(store->GetQueueCounts("wf")).pending == 0);
  CHECK(NothingToClaim(*store, "wf"));
}

TEST_CASE("an expired lease makes the run claimable; the new holder takes over a started step",
          "[conformance][workflow]") {
  auto store = NewTestStore();
  MakeWorkflow(*store, "wf");
  int64_t run_id = Start(*store, "wf", "{}").id;
  RunLease a = Claim(*store, "wf", absl::Milliseconds(200));
  CHECK(Ok(store->BeginStep(a, "slow")).outcome == StepOutcome::kStarted);
  // A repeated BeginStep by the owner is still STARTED and no new attempt.
  CHECK(Ok(store->BeginStep(a, "slow")).step.attempts == 1);

  std::optional<ClaimResult> claimed;
  REQUIRE(WaitUntil([&] {
    claimed = Ok(store->ClaimRun("wf", {}));
    return claimed->run.has_value();
  }));
  RunLease b{claimed->run->id, claimed->lease};
  CHECK(b.run_id == run_id);
  BeginStepResult taken = Ok(store->BeginStep(b, "slow"));
  CHECK(taken.outcome == StepOutcome::kStarted);
  CHECK(taken.step.attempts == 2);

  // The old owner can neither finish nor restart the step.
  CHECK(CodeOf(store->CompleteStep(a, "slow", "1").status()) == Code::kFailedPrecondition);
  CHECK(CodeOf(store->FailStep(a, "slow", {"{}", true, {}}).status()) == Code::kFailedPrecondition);
  CHECK(CodeOf(store->BeginStep(a, "slow").status()) == Code::kFailedPrecondition);
  CHECK(Ok(store->CompleteStep(b, "slow", "2")).output_json == "2");
  // Completing again is a harmless repeat.
  CHECK(Ok(store->CompleteStep(b, "slow", "3")).output_json == "2");
}

TEST_CASE("transient failures retry after a bounded, jittered backoff, then exhaust",
          "[conformance][workflow][retry]") {
  auto store = NewTestStore();
  storage::RetryPolicy policy;
  policy.max_attempts = 3;
  policy.base_backoff = absl::Milliseconds(200);
  policy.max_backoff = absl::Milliseconds(300);
  policy.jitter = 0.5;
  MakeWorkflow(*store, "wf", policy);
  Start(*store, "wf", "{}");
  RunLease lease = Claim(*store, "wf");

  // Failed attempt n waits min(300, 200 * 2^(n-1)) ms, less up to half of it.
  const absl::Duration expected[] = {absl::Milliseconds(200), absl::Milliseconds(300)};
  for (int attempt = 1; attempt <= 2; ++attempt) {
    INFO("attempt " << attempt);
    BeginStepResult begun = Ok(store->BeginStep(lease, "flaky"));
    REQUIRE(begun.outcome == StepOutcome::kStarted);
    CHECK(begun.step.attempts == attempt);
    absl::Time before = absl::Now();
    StepInfo failed = Ok(store->FailStep(lease, "flaky", {R"({"why":"busy"})", true, {}}));
    absl::Time after = absl::Now();
    CHECK(failed.status == StepStatus::kFailed);
    CHECK_FALSE(failed.exhausted);
    CHECK(SameJson(failed.error_json, R"({"why":"busy"})"));
    REQUIRE(failed.retry_at.has_value());
    absl::Duration d = expected[attempt - 1];
    CHECK(*failed.retry_at >= before + d / 2 - absl::Milliseconds(1));
    CHECK(*failed.retry_at <= after + d + absl::Milliseconds(1));

    BeginStepResult early = Ok(store->BeginStep(lease, "flaky"));
    CHECK(early.outcome == StepOutcome::kNotReady);
    CHECK(early.step.retry_at == failed.retry_at);
    absl::SleepFor(*failed.retry_at - absl::Now() + absl::Milliseconds(5));
  }
  BeginStepResult last = Ok(store->BeginStep(lease, "flaky"));
  REQUIRE(last.outcome == StepOutcome::kStarted);
  CHECK(last.step.attempts == 3);
  StepInfo exhausted = Ok(store->FailStep(lease, "flaky", {"{}", true, {}}));
  CHECK(exhausted.exhausted);
  CHECK_FALSE(exhausted.retry_at.has_value());
  CHECK(Ok(store->BeginStep(lease, "flaky")).outcome == StepOutcome::kExhausted);
  RunInfo failed_run = Ok(store->FailRun(lease, R"({"step":"flaky"})"));
  CHECK(failed_run.status == RunStatus::kFailed);
  CHECK(SameJson(failed_run.error_json, R"({"step":"flaky"})"));
}

TEST_CASE("a non-transient failure exhausts at once; retry_after overrides the backoff",
          "[conformance][workflow][retry]") {
  auto store = NewTestStore();
  MakeWorkflow(*store, "wf");
  Start(*store, "wf", "{}");
  RunLease lease = Claim(*store, "wf");
  REQUIRE(Ok(store->BeginStep(lease, "fatal")).outcome == StepOutcome::kStarted);
  CHECK(Ok(store->FailStep(lease, "fatal", {R"("bad input")", false, {}})).exhausted);
  CHECK(Ok(store->BeginStep(lease, "fatal")).outcome == StepOutcome::kExhausted);

  REQUIRE(Ok(store->BeginStep(lease, "soon")).outcome == StepOutcome::kStarted);
  absl::Time before = absl::Now();
  StepInfo failed = Ok(store->FailStep(lease, "soon", {"{}", true, absl::Milliseconds(50)}));
  REQUIRE(failed.retry_at.has_value());
  CHECK(*failed.retry_at >= before + absl::Milliseconds(50) - absl::Milliseconds(1));
  CHECK(*failed.retry_at <= absl::Now() + absl::Milliseconds(51));
}

TEST_CASE("a paused run releases its lease and is claimable again when due",
          "[conformance][workflow]") {
  auto store = NewTestStore();
  MakeWorkflow(*store, "wf");
  int64_t run_id = Start(*store, "wf", "{}").id;
  std::map<std::string, int> effects;
  RunLease first = Claim(*store, "wf");
  RunStep(*store, first, "one", effects);
  RunInfo paused = Ok(store->PauseRun(first, absl::Milliseconds(300)));
  CHECK(paused.status == RunStatus::kPaused);
  REQUIRE(paused.resume_at.has_value());
  CHECK(*paused.resume_at > absl::Now());
  CHECK(NothingToClaim(*store, "wf"));
  CHECK(CodeOf(store->BeginStep(first, "two").status()) == Code::kFailedPrecondition);

  std::optional<ClaimResult> claimed;
  REQUIRE(WaitUntil([&] {
    claimed = Ok(store->ClaimRun("wf", {}));
    return claimed->run.has_value();
  }));
  CHECK(absl::Now() >= *paused.resume_at);
  CHECK(claimed->run->id == run_id);
  CHECK_FALSE(claimed->run->resume_at.has_value());
  RunLease second{run_id, claimed->lease};
  RunStep(*store, second, "one", effects);
  RunStep(*store, second, "two", effects);
  Ok(store->CompleteRun(second, "null"));
  CHECK(effects == std::map<std::string, int>{{"one", 1}, {"two", 1}});
}

TEST_CASE("cancel takes effect at once or at the next step boundary", "[conformance][workflow]") {
  auto store = NewTestStore();
  MakeWorkflow(*store, "wf");

  SECTION("before the run is claimed") {
    int64_t id = Start(*store, "wf", "{}").id;
    CHECK(Ok(store->CancelRun(id)).status == RunStatus::kCancelled);
    CHECK(NothingToClaim(*store, "wf"));
    CHECK(Ok(store->CancelRun(id)).status == RunStatus::kCancelled);
  }
  SECTION("while paused") {
    int64_t id = Start(*store, "wf", "{}").id;
    Ok(store->PauseRun(Claim(*store, "wf"), absl::Milliseconds(1)));
    CHECK(Ok(store->CancelRun(id)).status == RunStatus::kCancelled);
    absl::SleepFor(absl::Milliseconds(5));
    CHECK(NothingToClaim(*store, "wf"));
  }
  SECTION("between steps") {
    int64_t id = Start(*store, "wf", "{}").id;
    RunLease lease = Claim(*store, "wf");
    std::map<std::string, int> effects;
    RunStep(*store, lease, "one", effects);
    CHECK(Ok(store->CancelRun(id)).status == RunStatus::kCancelling);
    CHECK(NothingToClaim(*store, "wf"));
    CHECK(Ok(store->BeginStep(lease, "two")).outcome == StepOutcome::kCancelled);
    CHECK(Ok(store->GetRun(id)).status == RunStatus::kCancelled);
    CHECK(Ok(store->ListSteps(StepsOf(id))).size() == 1);
    CHECK(CodeOf(store->CompleteRun(lease, "1").status()) == Code::kCancelled);
    CHECK(Ok(store->GetRun(id)).status == RunStatus::kCancelled);
  }
  SECTION("during a step") {
    int64_t id = Start(*store, "wf", "{}").id;
    RunLease lease = Claim(*store, "wf");
    REQUIRE(Ok(store->BeginStep(lease, "one")).outcome == StepOutcome::kStarted);
    CHECK(Ok(store->CancelRun(id)).status == RunStatus::kCancelling);
    CHECK(CodeOf(store->CompleteStep(lease, "one", "1").status()) == Code::kCancelled);
    RunInfo run = Ok(store->GetRun(id));
    CHECK(run.status == RunStatus::kCancelled);
    auto steps = Ok(store->ListSteps(StepsOf(id)));
    REQUIRE(steps.size() == 1);
    CHECK(steps[0].status == StepStatus::kStarted);
    CHECK(Ok(store->BeginStep(lease, "two")).outcome == StepOutcome::kCancelled);
  }
  SECTION("after its worker vanished: the next claim finalises it") {
    int64_t id = Start(*store, "wf", "{}").id;
    Claim(*store, "wf", absl::Milliseconds(100));
    CHECK(Ok(store->CancelRun(id)).status == RunStatus::kCancelling);
    absl::SleepFor(absl::Milliseconds(150));
    ClaimResult claimed = Ok(store->ClaimRun("wf", {}));
    CHECK_FALSE(claimed.run.has_value());
    CHECK(claimed.cancelled == std::vector<int64_t>{id});
    CHECK(Ok(store->GetRun(id)).status == RunStatus::kCancelled);
  }
  SECTION("a finished run cannot be cancelled") {
    int64_t id = Start(*store, "wf", "{}").id;
    Ok(store->CompleteRun(Claim(*store, "wf"), "{}"));
    CHECK(CodeOf(store->CancelRun(id).status()) == Code::kFailedPrecondition);
    CHECK(Ok(store->GetRun(id)).status == RunStatus::kSucceeded);
  }
  CHECK(Ok(store->GetQueueCounts("wf")).pending == 0);
}

TEST_CASE("bad input is rejected with the right code and stores nothing",
          "[conformance][workflow]") {
  auto store = NewTestStore();
  MakeWorkflow(*store, "wf");
  CHECK(CodeOf(store->StartRun({"nope", "{}", ""}).status()) == Code::kNotFound);
  CHECK(CodeOf(store->ClaimRun("nope", {}).status()) == Code::kNotFound);
  CHECK(CodeOf(store->StartRun({"wf", "{bad", ""}).status()) == Code::kInvalidArgument);
  CHECK(CodeOf(store->StartRun({"wf", "{}", std::string(256, 'k')}).status()) ==
        Code::kInvalidArgument);
  CHECK(Ok(store->ListRuns({"wf", std::nullopt, 0, 10})).empty());
  CHECK(CodeOf(store->ListRuns({"nope", std::nullopt, 0, 10}).status()) == Code::kNotFound);

  CHECK(CodeOf(store->GetRun(999).status()) == Code::kNotFound);
  CHECK(CodeOf(store->CancelRun(999).status()) == Code::kNotFound);
  CHECK(CodeOf(store->ListSteps(StepsOf(999)).status()) == Code::kNotFound);
  CHECK(CodeOf(store->BeginStep({999, {1, 1}}, "s").status()) == Code::kNotFound);

  int64_t id = Start(*store, "wf", "{}").id;
  RunLease lease = Claim(*store, "wf");
  CHECK(CodeOf(store->BeginStep(lease, "").status()) == Code::kInvalidArgument);
  CHECK(CodeOf(store->BeginStep(lease, std::string(256, 's')).status()) == Code::kInvalidArgument);
  CHECK(Ok(store->BeginStep(lease, std::string(255, 's'))).outcome == StepOutcome::kStarted);
  CHECK(CodeOf(store->CompleteStep(lease, "never-begun", "1").status()) ==
        Code::kFailedPrecondition);
  CHECK(CodeOf(store->FailStep(lease, "never-begun", {"{}", true, {}}).status()) ==
        Code::kFailedPrecondition);
  REQUIRE(Ok(store->BeginStep(lease, "s")).outcome == StepOutcome::kStarted);
  CHECK(CodeOf(store->CompleteStep(lease, "s", "{oops").status()) == Code::kInvalidArgument);
  CHECK(CodeOf(store->FailStep(lease, "s", {"nope", true, {}}).status()) == Code::kInvalidArgument);
  CHECK(CodeOf(store->CompleteRun(lease, "[1,").status()) == Code::kInvalidArgument);
  RunLease forged = lease;
  forged.lease.token ^= 1;
  CHECK(CodeOf(store->BeginStep(forged, "s").status()) == Code::kFailedPrecondition);

  auto steps = Ok(store->ListSteps(StepsOf(id)));
  REQUIRE(steps.size() == 2);
  CHECK(steps[1].status == StepStatus::kStarted);
  CHECK(steps[1].output_json.empty());
  CHECK(Ok(store->GetRun(id)).status == RunStatus::kRunning);
}

TEST_CASE("the queue calls refuse a workflow's trigger queue", "[conformance][workflow]") {
  auto store = NewTestStore();
  MakeWorkflow(*store, "wf");
  RunInfo run = Start(*store, "wf", "1");
  auto is_refused = [](const absl::Status& status) {
    INFO(status.ToString());
    return status.code() == Code::kFailedPrecondition;
  };
  CHECK(is_refused(store->Enqueue("wf", std::vector<storage::NewMessage>{Msg("1")}, 0).status()));
  storage::DequeueOptions dequeue;
  CHECK(is_refused(store->Dequeue("wf", dequeue).status()));
  CHECK(is_refused(store->Redrive("wf", {}).status()));
  CHECK(is_refused(store->PurgeQueue("wf").status()));
  CHECK(is_refused(store->DeleteQueue("wf", /*force=*/true)));

  ClaimResult claimed = Ok(store->ClaimRun("wf", {}));
  REQUIRE(claimed.run.has_value());
  std::vector<storage::Lease> leases = {claimed.lease};
  CHECK(is_refused(store->Ack("wf", leases).status()));
  CHECK(is_refused(store->Delete("wf", leases).status()));
  CHECK(is_refused(store->Nack("wf", leases, absl::ZeroDuration()).status()));
  CHECK(is_refused(store->ExtendVisibility("wf", leases, absl::Seconds(1)).status()));

  // The run is intact: its lease still guards it and it completes.
  CHECK(Ok(store->CompleteRun({run.id, claimed.lease}, "2")).status == RunStatus::kSucceeded);
  CHECK(Ok(store->GetQueue("wf")).name == "wf");
}

TEST_CASE("ExtendRunLease keeps a live worker's run through a long step",
          "[conformance][workflow]") {
  auto store = NewTestStore();
  MakeWorkflow(*store, "wf");
  RunInfo run = Start(*store, "wf", "1");
  RunLease lease = Claim(*store, "wf", absl::Milliseconds(300));
  CHECK(Ok(store->ExtendRunLease(lease, absl::Seconds(30))).status == RunStatus::kRunning);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // past the first lease
  CHECK(NothingToClaim(*store, "wf"));
  CHECK(Ok(store->CompleteRun(lease, "2")).status == RunStatus::kSucceeded);
  CHECK(store->ExtendRunLease(lease, absl::Seconds(1)).status().code() ==
        Code::kFailedPrecondition);
  RunLease unknown{run.id + 1000, lease.lease};
  CHECK(store->ExtendRunLease(unknown, absl::Seconds(1)).status().code() == Code::kNotFound);
}

TEST_CASE("steps list in pages, in the order they were first begun", "[conformance][workflow]") {
  auto store = NewTestStore();
  MakeWorkflow(*store, "wf");
  int64_t id = Start(*store, "wf", "{}").id;
  RunLease lease = Claim(*store, "wf");
  std::map<std::string, int> effects;
  const std::vector<std::string> names = {"e", "d", "c", "b", "a"};
  for (const std::string& name : names) RunStep(*store, lease, name, effects);
  storage::StepFilter page;
  page.run_id = id;
  page.limit = 2;
  std::vector<std::string> seen;
  std::vector<size_t> sizes;
  while (true) {
    std::vector<StepInfo> got = Ok(store->ListSteps(page));
    sizes.push_back(got.size());
    for (const StepInfo& s : got) {
      CHECK(s.id > page.after_id);
      seen.push_back(s.name);
    }
    if (got.size() < static_cast<size_t>(page.limit)) break;
    page.after_id = got.back().id;
  }
  CHECK(sizes == std::vector<size_t>{2, 2, 1});
  CHECK(seen == names);
}

}  // namespace
}  // namespace pgqrs::testing
