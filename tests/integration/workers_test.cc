// Workers over gRPC: the state machine, and the heartbeat reaper taking leases back from
// a worker that stopped heartbeating.
#include <thread>

#include "tests/integration/client.h"

namespace pgqrs::testing {
namespace {

using Clock = std::chrono::steady_clock;

v1::Worker Register(Client& client, const std::string& name, const std::string& queue) {
  v1::RegisterWorkerRequest req;
  req.set_name(name);
  req.set_queue(queue);
  req.set_role(v1::WORKER_ROLE_CONSUMER);
  req.set_hostname("test-host");
  v1::Worker worker;
  grpc::Status status =
      client.Call(*client.workers, &v1::WorkerService::Stub::RegisterWorker, req, &worker);
  INFO(status.error_message());
  REQUIRE(status.ok());
  return worker;
}

grpc::StatusCode Move(Client& client,
                      grpc::Status (v1::WorkerService::Stub::*method)(grpc::ClientContext*,
                                                                      const v1::WorkerIdRequest&,
                                                                      v1::Worker*),
                      int64_t id, v1::WorkerStatus* status) {
  v1::WorkerIdRequest req;
  req.set_worker_id(id);
  v1::Worker worker;
  grpc::Status s = client.Call(*client.workers, method, req, &worker);
  *status = worker.status();
  return s.error_code();
}

TEST_CASE("the worker state machine over gRPC", "[integration][worker]") {
  Daemon daemon({DsnFlag("workers.db")});
  Client client(daemon);
  client.CreateQueue("q");
  v1::Worker w = Register(client, "w1", "q");
  CHECK(w.status() == v1::WORKER_STATUS_READY);
  v1::WorkerStatus status;
  using Stub = v1::WorkerService::Stub;
  CHECK(Move(client, &Stub::ResumeWorker, w.id(), &status) ==
        grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(Move(client, &Stub::SuspendWorker, w.id(), &status) == grpc::StatusCode::OK);
  CHECK(status == v1::WORKER_STATUS_SUSPENDED);
  CHECK(Move(client, &Stub::InterruptWorker, w.id(), &status) ==
        grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(Move(client, &Stub::ResumeWorker, w.id(), &status) == grpc::StatusCode::OK);
  CHECK(Move(client, &Stub::InterruptWorker, w.id(), &status) == grpc::StatusCode::OK);
  CHECK(status == v1::WORKER_STATUS_INTERRUPTED);
  CHECK(Move(client, &Stub::GetWorker, 0, &status) == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(Move(client, &Stub::GetWorker, 9999, &status) == grpc::StatusCode::NOT_FOUND);

  v1::RegisterWorkerRequest dup;
  dup.set_name("w1");
  dup.set_queue("q");
  dup.set_role(v1::WORKER_ROLE_CONSUMER);
  v1::Worker out;
  CHECK(client.Call(*client.workers, &Stub::RegisterWorker, dup, &out).error_code() ==
        grpc::StatusCode::ALREADY_EXISTS);
  dup.set_role(v1::WORKER_ROLE_UNSPECIFIED);
  CHECK(client.Call(*client.workers, &Stub::RegisterWorker, dup, &out).error_code() ==
        grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_CASE("a silent worker loses its leases within worker_timeout plus one reaper interval",
          "[integration][worker]") {
  constexpr int kTimeoutMs = 1000;
  constexpr int kIntervalMs = 300;
  Daemon daemon({DsnFlag("reaper.db"), "--worker_timeout_ms=" + std::to_string(kTimeoutMs),
                 "--heartbeat_reaper_interval_ms=" + std::to_string(kIntervalMs)});
  Client client(daemon);
  client.CreateQueue("q");
  v1::Worker silent = Register(client, "silent", "q");
  v1::Worker alive = Register(client, "alive", "q");
  client.Enqueue("q", {R"({"job":1})"});

  v1::DequeueRequest req;
  req.set_queue("q");
  req.set_consumer_worker_id(silent.id());
  req.set_visibility_timeout_ms(3600000);  // the lease itself would last an hour
  v1::DequeueResponse leased;
  REQUIRE(client.Call(*client.queues, &v1::QueueService::Stub::Dequeue, req, &leased).ok());
  REQUIRE(leased.messages_size() == 1);
  auto lease_time = Clock::now();

  // `alive` keeps heartbeating; `silent` never does. Wait for the message to come back.
  v1::DequeueResponse again;
  while (Clock::now() - lease_time < std::chrono::seconds(10)) {
    v1::HeartbeatRequest hb;
    hb.set_worker_id(alive.id());
    v1::Worker w;
    REQUIRE(client.Call(*client.workers, &v1::WorkerService::Stub::Heartbeat, hb, &w).ok());
    again = client.Dequeue("q", 1);
    if (again.messages_size() > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto released_after = Clock::now() - lease_time;
  REQUIRE(again.messages_size() == 1);
  CHECK(again.messages(0).read_count() == 2);
  CHECK(released_after >= std::chrono::milliseconds(kTimeoutMs));
  // Allow one interval for the reaper's own cadence plus scheduling slack.
  CHECK(released_after < std::chrono::milliseconds(kTimeoutMs + kIntervalMs + 700));

  v1::WorkerIdRequest get;
  get.set_worker_id(silent.id());
  v1::Worker w;
  REQUIRE(client.Call(*client.workers, &v1::WorkerService::Stub::GetWorker, get, &w).ok());
  CHECK(w.status() == v1::WORKER_STATUS_STOPPED);
  get.set_worker_id(alive.id());
  REQUIRE(client.Call(*client.workers, &v1::WorkerService::Stub::GetWorker, get, &w).ok());
  CHECK(w.status() == v1::WORKER_STATUS_READY);
}

TEST_CASE("the reaper deletes finished runs and stopped workers past retention",
          "[integration][worker][retention]") {
  Daemon daemon({DsnFlag("retention.db"), "--run_retention_ms=200", "--worker_retention_ms=200",
                 "--heartbeat_reaper_interval_ms=100"});
  Client client(daemon);
  v1::CreateWorkflowRequest create;
  create.set_name("wf");
  v1::Workflow workflow;
  REQUIRE(
      client.Call(*client.workflows, &v1::WorkflowService::Stub::CreateWorkflow, create, &workflow)
          .ok());
  v1::StartRunRequest start;
  start.set_workflow("wf");
  start.set_input_json("{}");
  v1::Run finished, live;
  REQUIRE(
      client.Call(*client.workflows, &v1::WorkflowService::Stub::StartRun, start, &finished).ok());
  REQUIRE(client.Call(*client.workflows, &v1::WorkflowService::Stub::StartRun, start, &live).ok());
  v1::CancelRunRequest cancel;
  cancel.set_run_id(finished.id());
  v1::Run cancelled;
  REQUIRE(client.Call(*client.workflows, &v1::WorkflowService::Stub::CancelRun, cancel, &cancelled)
              .ok());
  client.CreateQueue("q");
  v1::Worker stopped = Register(client, "stopped", "q");
  v1::ShutdownWorkerRequest shutdown;
  shutdown.set_worker_id(stopped.id());
  v1::Worker w;
  REQUIRE(
      client.Call(*client.workers, &v1::WorkerService::Stub::ShutdownWorker, shutdown, &w).ok());

  auto run_code = [&](int64_t id) {
    v1::GetRunRequest get;
    get.set_run_id(id);
    v1::Run run;
    return client.Call(*client.workflows, &v1::WorkflowService::Stub::GetRun, get, &run)
        .error_code();
  };
  auto worker_code = [&](int64_t id) {
    v1::WorkerIdRequest get;
    get.set_worker_id(id);
    v1::Worker worker;
    return client.Call(*client.workers, &v1::WorkerService::Stub::GetWorker, get, &worker)
        .error_code();
  };
  // Kept for the retention period, then deleted within a few reaper passes.
  CHECK(run_code(finished.id()) == grpc::StatusCode::OK);
  CHECK(worker_code(stopped.id()) == grpc::StatusCode::OK);
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline && (run_code(finished.id()) != grpc::StatusCode::NOT_FOUND ||
                                     worker_code(stopped.id()) != grpc::StatusCode::NOT_FOUND)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(run_code(finished.id()) == grpc::StatusCode::NOT_FOUND);
  CHECK(worker_code(stopped.id()) == grpc::StatusCode::NOT_FOUND);
  CHECK(run_code(live.id()) == grpc::StatusCode::OK);
}

}  // namespace
}  // namespace pgqrs::testing
