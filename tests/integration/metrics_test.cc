// Prometheus metrics on the real daemon, scraped with curl during a workload: each value
// moves as the workload implies.
#include <atomic>
#include <regex>
#include <thread>

#include "tests/integration/client.h"

namespace pgqrs::testing {
namespace {

class Scraper {
 public:
  explicit Scraper(const Daemon& daemon) {
    std::smatch match;
    std::string log = daemon.Log();
    REQUIRE(std::regex_search(log, match, std::regex("metrics on (http://[0-9.:]+/metrics)")));
    url_ = match[1];
  }

  std::string Scrape() const {
    std::string err;
    auto [code, body] = RunCommand("curl -sf " + url_, &err);
    INFO(err);
    REQUIRE(code == 0);
    return body;
  }

  // The value of the series `name` whose labels include every one of `labels`
  // (`key="value"`); -1 when there is none.
  double Value(const std::string& name, const std::vector<std::string>& labels = {}) const {
    return ValueIn(Scrape(), name, labels);
  }

  // The same, in a scrape already taken, for values that must come from one scrape.
  static double ValueIn(const std::string& scrape, const std::string& name,
                        const std::vector<std::string>& labels = {}) {
    std::istringstream lines(scrape);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.rfind(name + "{", 0) != 0 && line.rfind(name + " ", 0) != 0) continue;
      bool all = true;
      for (const std::string& label : labels) all = all && line.find(label) != std::string::npos;
      if (all) return std::stod(line.substr(line.rfind(' ') + 1));
    }
    return -1;
  }

 private:
  std::string url_;
};

// Polls until `done` or 10 s.
template <typename Predicate>
bool Eventually(Predicate done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

TEST_CASE("metrics follow a workload", "[integration][metrics]") {
  Daemon daemon({DsnFlag("metrics.db"), "--metrics_listen=127.0.0.1:0",
                 "--visibility_reaper_interval_ms=100", "--metrics_max_queues=2"});
  Scraper metrics(daemon);
  Client client(daemon);
  const std::string kEnqueueOk = R"(method="/pgqrs.v1.QueueService/Enqueue")";

  client.CreateQueue("a", /*max_read_count=*/1);
  client.Enqueue("a", {"1", "2", "3"});
  CHECK(metrics.Value("pgqrs_rpcs_total", {kEnqueueOk, R"(code="OK")"}) == 1);
  CHECK(metrics.Value("pgqrs_rpc_duration_seconds_count", {kEnqueueOk}) == 1);
  CHECK(metrics.Value("pgqrs_queue_messages", {R"(queue="a")", R"(state="pending")"}) == 3);

  // A refused call is counted under its code.
  v1::EnqueueRequest missing;
  missing.set_queue("nope");
  missing.add_messages()->set_payload_json("1");
  v1::EnqueueResponse ignored;
  client.Call(*client.queues, &v1::QueueService::Stub::Enqueue, missing, &ignored);
  CHECK(metrics.Value("pgqrs_rpcs_total", {kEnqueueOk, R"(code="NOT_FOUND")"}) == 1);

  // A lease that expires at max_read_count = 1 becomes a dead letter.
  REQUIRE(client.Dequeue("a", 1, 0, /*vt_ms=*/200).messages_size() == 1);
  CHECK(metrics.Value("pgqrs_queue_messages", {R"(queue="a")", R"(state="in_flight")"}) == 1);
  CHECK(Eventually([&] { return metrics.Value("pgqrs_dead_letter_moves_total") == 1; }));
  CHECK(metrics.Value("pgqrs_leases_expired_total") >= 1);
  CHECK(metrics.Value("pgqrs_queue_messages", {R"(queue="a")", R"(state="dead")"}) == 1);
  CHECK(metrics.Value("pgqrs_reaper_runs_total", {R"(reaper="visibility")", R"(result="ok")"}) > 1);
  CHECK(metrics.Value("pgqrs_queue_oldest_pending_age_seconds", {R"(queue="a")"}) > 0.1);

  v1::RedriveRequest redrive;
  redrive.set_queue("a");
  v1::RedriveResponse redriven;
  REQUIRE(client.Call(*client.queues, &v1::QueueService::Stub::Redrive, redrive, &redriven).ok());
  CHECK(metrics.Value("pgqrs_redriven_messages_total") == 1);
  CHECK(metrics.Value("pgqrs_queue_messages", {R"(queue="a")", R"(state="dead")"}) == 0);

  // Workers by status.
  v1::RegisterWorkerRequest reg;
  reg.set_name("w");
  reg.set_queue("a");
  reg.set_role(v1::WORKER_ROLE_CONSUMER);
  v1::Worker worker;
  REQUIRE(
      client.Call(*client.workers, &v1::WorkerService::Stub::RegisterWorker, reg, &worker).ok());
  CHECK(metrics.Value("pgqrs_workers", {R"(status="ready")"}) == 1);

  // A parked long-poll shows while it waits.
  client.CreateQueue("b");
  std::thread poller([&] { client.Dequeue("b", 1, /*wait_ms=*/1500); });
  CHECK(Eventually([&] { return metrics.Value("pgqrs_long_polls_parked") == 1; }));
  poller.join();
  CHECK(metrics.Value("pgqrs_long_polls_parked") == 0);

  // Beyond --metrics_max_queues the queues are summed under one label.
  client.CreateQueue("c");
  client.CreateQueue("d");
  client.Enqueue("c", {"1"});
  client.Enqueue("d", {"1", "2"});
  CHECK(metrics.Value("pgqrs_queues") == 4);
  CHECK(metrics.Value("pgqrs_queue_messages", {R"(queue="_other")", R"(state="pending")"}) == 3);
  CHECK(metrics.Value("pgqrs_queue_messages", {R"(queue="d")"}) == -1);
}

TEST_CASE("group-commit metrics move with concurrent writers", "[integration][metrics]") {
  Daemon daemon({DsnFlag("commits.db"), "--metrics_listen=127.0.0.1:0"});
  Scraper metrics(daemon);
  Client client(daemon);
  // Each writer has its own queue: concurrent enqueues of one queue share a transaction
  // (server/call_groups.h), and this test counts one transaction per enqueue.
  constexpr int kWriters = 8, kEnqueues = 25;
  for (int t = 0; t < kWriters; ++t) client.CreateQueue("q" + std::to_string(t));
  const std::string before = metrics.Scrape();
  const double commits_before = Scraper::ValueIn(before, "pgqrs_store_commit_batch_size_count");
  const double writes_before = Scraper::ValueIn(before, "pgqrs_store_commit_batch_size_sum");
  const double syncs_before = Scraper::ValueIn(before, "pgqrs_store_sync_duration_seconds_count");
  REQUIRE(commits_before >= 1);  // CreateQueue at least
  REQUIRE(syncs_before >= 1);

  std::atomic<int> failed{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < kWriters; ++t) {
    writers.emplace_back([&, t] {
      auto stub = v1::QueueService::NewStub(daemon.Channel());
      for (int i = 0; i < kEnqueues; ++i) {
        grpc::ClientContext context;
        v1::EnqueueRequest req;
        req.set_queue("q" + std::to_string(t));
        req.add_messages()->set_payload_json("1");
        v1::EnqueueResponse resp;
        if (!stub->Enqueue(&context, req, &resp).ok()) ++failed;
      }
    });
  }
  // Scraped while the writers run, and after.
  const double writes_during = metrics.Value("pgqrs_store_commit_batch_size_sum");
  for (std::thread& w : writers) w.join();
  REQUIRE(failed == 0);
  // One scrape, so the reapers' commits cannot fall between the values compared.
  const std::string after = metrics.Scrape();
  const double writes =
      Scraper::ValueIn(after, "pgqrs_store_commit_batch_size_sum") - writes_before;
  const double commits =
      Scraper::ValueIn(after, "pgqrs_store_commit_batch_size_count") - commits_before;
  const double syncs =
      Scraper::ValueIn(after, "pgqrs_store_sync_duration_seconds_count") - syncs_before;
  CHECK(writes_during >= writes_before);
  CHECK(writes >= kWriters * kEnqueues);  // the reapers' writes come on top
  CHECK(commits >= 1);
  CHECK(commits <= writes);
  CHECK(syncs + syncs_before == commits + commits_before);
  CHECK(Scraper::ValueIn(after, "pgqrs_store_sync_duration_seconds_bucket", {R"(le="+Inf")"}) ==
        syncs + syncs_before);
  // Exported by both embedded stores; 0 without concurrent writers (mvcc=on).
  CHECK(Scraper::ValueIn(after, "pgqrs_store_conflicts_total") == 0);
  CHECK(Scraper::ValueIn(after, "pgqrs_store_retries_total") == 0);
  CHECK(Scraper::ValueIn(after, "pgqrs_store_exclusive_retries_total") == 0);
  WARN("group commit: " << writes << " writes in " << commits << " durable commits");
}

}  // namespace
}  // namespace pgqrs::testing
