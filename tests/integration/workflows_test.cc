// Workflows through the real daemon: a run survives its worker's death (the heartbeat
// reaper hands it to another worker, completed steps replay), WaitRun wakes on
// completion, and bad input is refused over gRPC.
#include <algorithm>
#include <atomic>
#include <map>
#include <thread>

#include "absl/strings/str_split.h"
#include "tests/integration/client.h"

namespace pgqrs::testing {
namespace {

using Clock = std::chrono::steady_clock;
using Stub = v1::WorkflowService::Stub;

// A workflow worker over gRPC: claims, then runs steps under the claim's receipt.
class Worker {
 public:
  Worker(Client& client, int64_t worker_id) : client_(client), worker_id_(worker_id) {}

  // Claims a run of `workflow`, long-polling up to `wait_ms`. Returns the run id, 0 if none.
  int64_t Claim(const std::string& workflow, int64_t wait_ms = 5000) {
    v1::ClaimRunRequest req;
    req.set_workflow(workflow);
    req.set_worker_id(worker_id_);
    req.set_wait_ms(wait_ms);
    v1::ClaimRunResponse resp;
    grpc::Status status = client_.Call(*client_.workflows, &Stub::ClaimRun, req, &resp);
    INFO(status.error_message());
    REQUIRE(status.ok());
    if (!resp.has_run()) return 0;
    run_id_ = resp.run().id();
    receipt_ = resp.receipt();
    return run_id_;
  }

  // Begins the step; runs it (counting the side effect) only when STARTED.
  std::string Step(const std::string& name, std::map<std::string, int>& effects) {
    v1::BeginStepRequest begin;
    begin.set_run_id(run_id_);
    begin.set_step_name(name);
    begin.set_receipt(receipt_);
    v1::BeginStepResponse begun;
    grpc::Status status = client_.Call(*client_.workflows, &Stub::BeginStep, begin, &begun);
    INFO(status.error_message());
    REQUIRE(status.ok());
    if (begun.outcome() == v1::STEP_OUTCOME_COMPLETED) return begun.output_json();
    REQUIRE(begun.outcome() == v1::STEP_OUTCOME_STARTED);
    ++effects[name];
    v1::CompleteStepRequest complete;
    complete.set_run_id(run_id_);
    complete.set_step_name(name);
    complete.set_output_json(R"({"done":")" + name + R"("})");
    complete.set_receipt(receipt_);
    v1::Step step;
    REQUIRE(CompleteStep(complete, &step).ok());
    return step.output_json();
  }

  grpc::Status CompleteStep(const v1::CompleteStepRequest& req, v1::Step* step) {
    return client_.Call(*client_.workflows, &Stub::CompleteStep, req, step);
  }

  grpc::Status CompleteRun(const std::string& output) {
    v1::CompleteRunRequest req;
    req.set_run_id(run_id_);
    req.set_output_json(output);
    req.set_receipt(receipt_);
    v1::Run run;
    return client_.Call(*client_.workflows, &Stub::CompleteRun, req, &run);
  }

  const std::string& receipt() const { return receipt_; }

 private:
  Client& client_;
  int64_t worker_id_;
  int64_t run_id_ = 0;
  std::string receipt_;
};

void CreateWorkflow(Client& client, const std::string& name) {
  v1::CreateWorkflowRequest req;
  req.set_name(name);
  v1::Workflow workflow;
  grpc::Status status = client.Call(*client.workflows, &Stub::CreateWorkflow, req, &workflow);
  INFO(status.error_message());
  REQUIRE(status.ok());
}

v1::Run StartRun(Client& client, const std::string& workflow, const std::string& input) {
  v1::StartRunRequest req;
  req.set_workflow(workflow);
  req.set_input_json(input);
  v1::Run run;
  grpc::Status status = client.Call(*client.workflows, &Stub::StartRun, req, &run);
  INFO(status.error_message());
  REQUIRE(status.ok());
  return run;
}

int64_t RegisterWorker(Client& client, const std::string& name, const std::string& queue) {
  v1::RegisterWorkerRequest req;
  req.set_name(name);
  req.set_queue(queue);
  req.set_role(v1::WORKER_ROLE_CONSUMER);
  v1::Worker worker;
  REQUIRE(
      client.Call(*client.workers, &v1::WorkerService::Stub::RegisterWorker, req, &worker).ok());
  return worker.id();
}

TEST_CASE("a run resumes on another worker after its first worker dies; steps run once",
          "[integration][workflow]") {
  Daemon daemon(
      {DsnFlag("wf-crash.db"), "--worker_timeout_ms=500", "--heartbeat_reaper_interval_ms=100"});
  Client client(daemon);
  CreateWorkflow(client, "orders");
  int64_t run_id = StartRun(client, "orders", R"({"order":42})").id();
  std::map<std::string, int> effects;

  Worker a(client, RegisterWorker(client, "worker-a", "orders"));
  REQUIRE(a.Claim("orders") == run_id);
  std::string out1 = a.Step("reserve", effects);
  std::string out2 = a.Step("charge", effects);
  // Worker A now "dies": no heartbeats, no acks. Worker B heartbeats and parks a claim;
  // the heartbeat reaper stops A, releases its lease and wakes B's claim.
  int64_t b_id = RegisterWorker(client, "worker-b", "orders");
  std::atomic<bool> b_alive{true};
  std::thread heartbeats([&] {
    Client beat(daemon);
    while (b_alive) {
      v1::HeartbeatRequest req;
      req.set_worker_id(b_id);
      v1::Worker w;
      beat.Call(*beat.workers, &v1::WorkerService::Stub::Heartbeat, req, &w);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  Worker b(client, b_id);
  auto start = Clock::now();
  int64_t claimed = b.Claim("orders", /*wait_ms=*/10000);
  auto waited = Clock::now() - start;
  b_alive = false;
  heartbeats.join();
  REQUIRE(claimed == run_id);
  CHECK(waited < std::chrono::seconds(5));

  CHECK(b.Step("reserve", effects) == out1);
  CHECK(b.Step("charge", effects) == out2);
  b.Step("ship", effects);
  REQUIRE(b.CompleteRun(R"({"shipped":true})").ok());
  CHECK(effects == std::map<std::string, int>{{"reserve", 1}, {"charge", 1}, {"ship", 1}});

  // The zombie wakes and tries to complete a step: refused, nothing changes.
  v1::CompleteStepRequest zombie;
  zombie.set_run_id(run_id);
  zombie.set_step_name("ship");
  zombie.set_output_json(R"("zombie")");
  zombie.set_receipt(a.receipt());
  v1::Step ignored;
  CHECK(a.CompleteStep(zombie, &ignored).error_code() == grpc::StatusCode::FAILED_PRECONDITION);

  v1::ListStepsRequest list;
  list.set_run_id(run_id);
  v1::ListStepsResponse steps;
  REQUIRE(client.Call(*client.workflows, &Stub::ListSteps, list, &steps).ok());
  REQUIRE(steps.steps_size() == 3);
  CHECK(steps.steps(2).output_json() == R"({"done":"ship"})");
  v1::GetRunRequest get;
  get.set_run_id(run_id);
  v1::Run run;
  REQUIRE(client.Call(*client.workflows, &Stub::GetRun, get, &run).ok());
  CHECK(run.status() == v1::RUN_STATUS_SUCCEEDED);
  CHECK(run.output_json() == R"({"shipped":true})");
  CHECK(run.worker_id() == b_id);
}

v1::Run WaitRun(Client& client, int64_t run_id, int64_t timeout_ms) {
  v1::WaitRunRequest req;
  req.set_run_id(run_id);
  req.set_timeout_ms(timeout_ms);
  v1::Run run;
  grpc::Status status = client.Call(*client.workflows, &Stub::WaitRun, req, &run);
  INFO(status.error_message());
  REQUIRE(status.ok());
  return run;
}

TEST_CASE("WaitRun wakes when the run completes or is cancelled, else times out",
          "[integration][workflow]") {
  Daemon daemon({DsnFlag("wf-wait.db")});
  Client client(daemon);
  Client worker_client(daemon);
  CreateWorkflow(client, "wf");

  int64_t run_id = StartRun(client, "wf", "{}").id();
  auto start = Clock::now();
  std::thread worker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    Worker w(worker_client, 0);
    REQUIRE(w.Claim("wf", 0) == run_id);
    REQUIRE(w.CompleteRun(R"({"answer":42})").ok());
  });
  v1::Run done = WaitRun(client, run_id, 10000);
  auto waited = Clock::now() - start;
  worker.join();
  CHECK(done.status() == v1::RUN_STATUS_SUCCEEDED);
  CHECK(done.output_json() == R"({"answer":42})");
  CHECK(waited >= std::chrono::milliseconds(250));
  CHECK(waited < std::chrono::seconds(3));

  int64_t second = StartRun(client, "wf", "{}").id();
  start = Clock::now();
  CHECK(WaitRun(client, second, 300).status() == v1::RUN_STATUS_QUEUED);
  CHECK(Clock::now() - start >= std::chrono::milliseconds(250));

  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    v1::CancelRunRequest req;
    req.set_run_id(second);
    v1::Run run;
    REQUIRE(worker_client.Call(*worker_client.workflows, &Stub::CancelRun, req, &run).ok());
  });
  start = Clock::now();
  CHECK(WaitRun(client, second, 10000).status() == v1::RUN_STATUS_CANCELLED);
  CHECK(Clock::now() - start < std::chrono::seconds(3));
  canceller.join();
}

TEST_CASE("workflow calls refuse bad input over gRPC and store nothing",
          "[integration][workflow]") {
  Daemon daemon({DsnFlag("wf-bad.db")});
  Client client(daemon);
  CreateWorkflow(client, "wf");
  auto code = [&](auto method, const auto& req, auto* resp) {
    return client.Call(*client.workflows, method, req, resp).error_code();
  };
  v1::Run run;
  v1::StartRunRequest start;
  start.set_workflow("wf");
  start.set_input_json("{not json");
  CHECK(code(&Stub::StartRun, start, &run) == grpc::StatusCode::INVALID_ARGUMENT);
  start.set_workflow("missing");
  start.set_input_json("{}");
  CHECK(code(&Stub::StartRun, start, &run) == grpc::StatusCode::NOT_FOUND);
  v1::CreateWorkflowRequest create;
  create.set_name("bad name!");
  v1::Workflow workflow;
  CHECK(code(&Stub::CreateWorkflow, create, &workflow) == grpc::StatusCode::INVALID_ARGUMENT);
  create.set_name("wf2");
  create.mutable_retry_policy()->set_jitter(1.5);
  CHECK(code(&Stub::CreateWorkflow, create, &workflow) == grpc::StatusCode::INVALID_ARGUMENT);
  v1::GetRunRequest get;
  get.set_run_id(999);
  CHECK(code(&Stub::GetRun, get, &run) == grpc::StatusCode::NOT_FOUND);

  int64_t run_id = StartRun(client, "wf", "{}").id();
  Worker w(client, 0);
  REQUIRE(w.Claim("wf", 0) == run_id);
  v1::BeginStepRequest begin;
  begin.set_run_id(run_id);
  begin.set_receipt(w.receipt());
  v1::BeginStepResponse begun;
  CHECK(code(&Stub::BeginStep, begin, &begun) == grpc::StatusCode::INVALID_ARGUMENT);
  begin.set_step_name(std::string(256, 'x'));
  CHECK(code(&Stub::BeginStep, begin, &begun) == grpc::StatusCode::INVALID_ARGUMENT);
  begin.set_step_name("s");
  begin.set_receipt("garbage");
  CHECK(code(&Stub::BeginStep, begin, &begun) == grpc::StatusCode::INVALID_ARGUMENT);
  v1::CompleteStepRequest complete;
  complete.set_run_id(run_id);
  complete.set_step_name("never-begun");
  complete.set_receipt(w.receipt());
  v1::Step step;
  CHECK(code(&Stub::CompleteStep, complete, &step) == grpc::StatusCode::FAILED_PRECONDITION);

  v1::ListRunsRequest list;
  list.set_workflow("wf");
  v1::ListRunsResponse runs;
  REQUIRE(client.Call(*client.workflows, &Stub::ListRuns, list, &runs).ok());
  CHECK(runs.runs_size() == 1);
  v1::ListStepsRequest steps_req;
  steps_req.set_run_id(run_id);
  v1::ListStepsResponse steps;
  REQUIRE(client.Call(*client.workflows, &Stub::ListSteps, steps_req, &steps).ok());
  CHECK(steps.steps_size() == 0);
}

// Runs `pgqrs --output=json ARGS` against the daemon; returns its output lines.
std::vector<std::string> CliLines(const Daemon& daemon, const std::string& args) {
  std::string err;
  auto [code, out] = RunCommand(
      Runfile("tools/pgqrs/pgqrs") + " --server=" + daemon.address() + " --output=json " + args,
      &err);
  INFO(err);
  REQUIRE(code == 0);
  std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
  return lines;
}

TEST_CASE("ListWorkers and ListSteps page; the CLI follows the pages",
          "[integration][workflow][cli]") {
  Daemon daemon({DsnFlag("wf-pages.db"), "--max_page_size=2"});
  Client client(daemon);
  CreateWorkflow(client, "wf");
  for (int i = 0; i < 5; ++i) RegisterWorker(client, "w" + std::to_string(i), "wf");
  int64_t run_id = StartRun(client, "wf", "{}").id();
  Worker w(client, 0);
  REQUIRE(w.Claim("wf", 0) == run_id);
  std::map<std::string, int> effects;
  for (const char* name : {"a", "b", "c"}) w.Step(name, effects);

  v1::ListWorkersRequest workers_req;
  std::vector<int> sizes;
  std::vector<int64_t> ids;
  do {
    v1::ListWorkersResponse page;
    grpc::Status status =
        client.Call(*client.workers, &v1::WorkerService::Stub::ListWorkers, workers_req, &page);
    INFO(status.error_message());
    REQUIRE(status.ok());
    sizes.push_back(page.workers_size());
    for (const v1::Worker& worker : page.workers()) ids.push_back(worker.id());
    workers_req.set_page_token(page.next_page_token());
    REQUIRE(sizes.size() <= 5);
  } while (!workers_req.page_token().empty());
  CHECK(sizes == std::vector<int>{2, 2, 1});
  CHECK(std::is_sorted(ids.begin(), ids.end()));
  CHECK(ids.size() == 5);

  workers_req.set_page_size(3);
  v1::ListWorkersResponse refused;
  grpc::Status over =
      client.Call(*client.workers, &v1::WorkerService::Stub::ListWorkers, workers_req, &refused);
  CHECK(over.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(over.error_message().find("1 to 2") != std::string::npos);
  v1::ListStepsRequest steps_req;
  steps_req.set_run_id(run_id);
  steps_req.set_page_size(3);
  v1::ListStepsResponse steps;
  over = client.Call(*client.workflows, &Stub::ListSteps, steps_req, &steps);
  CHECK(over.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(over.error_message().find("1 to 2") != std::string::npos);
  steps_req.set_page_size(0);
  steps_req.set_page_token("not base64!");
  CHECK(client.Call(*client.workflows, &Stub::ListSteps, steps_req, &steps).error_code() ==
        grpc::StatusCode::INVALID_ARGUMENT);
  steps_req.clear_page_token();
  REQUIRE(client.Call(*client.workflows, &Stub::ListSteps, steps_req, &steps).ok());
  CHECK(steps.steps_size() == 2);
  CHECK(!steps.next_page_token().empty());

  CHECK(CliLines(daemon, "worker list").size() == 5);
  std::vector<std::string> step_lines = CliLines(daemon, "run steps " + std::to_string(run_id));
  REQUIRE(step_lines.size() == 3);
  CHECK(step_lines[2].find(R"("step_name":"c")") != std::string::npos);
}

TEST_CASE("StartRun says whether it created the run; a reused key with other input fails",
          "[integration][workflow]") {
  Daemon daemon({"--dsn=sqlite::memory:"});
  Client client(daemon);
  CreateWorkflow(client, "wf");
  auto start = [&](const std::string& input, v1::Run* run) {
    v1::StartRunRequest req;
    req.set_workflow("wf");
    req.set_input_json(input);
    req.set_idempotency_key("order-7");
    return client.Call(*client.workflows, &Stub::StartRun, req, run);
  };
  v1::Run first, again, other;
  REQUIRE(start(R"({"n":1})", &first).ok());
  CHECK(first.created());
  REQUIRE(start(R"({"n":1})", &again).ok());
  CHECK_FALSE(again.created());
  CHECK(again.id() == first.id());
  grpc::Status reused = start(R"({"n":2})", &other);
  CHECK(reused.error_code() == grpc::StatusCode::ALREADY_EXISTS);
}

}  // namespace
}  // namespace pgqrs::testing
