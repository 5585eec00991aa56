// A forked child runs a workload on one adapter and is killed with SIGKILL mid-way; the other
// adapter then opens the file: every enqueue the child saw succeed is there, and libsqlite3
// finds the file sound. Rounds: PGQRS_CROSS_CRASH_ROUNDS (default 3 per direction).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>

#include "storage/open_store.h"
#include "tests/storage/conformance/helpers.h"
#include "tests/storage/engine/workload.h"

namespace pgqrs::testing {
namespace {

// The child's loop: enqueue, lease, ack, workers and runs, reporting each acknowledged
// enqueue's ids on `fd`. Never returns; exits 2 on any error.
[[noreturn]] void ChildWorkload(const std::string& dsn, int fd) {
  auto fail = [] { _exit(2); };
  auto store = storage::OpenStore(dsn, {});
  if (!store.ok() || !(*store)->Migrate().ok()) fail();
  storage::Store& s = **store;
  storage::QueueOptions queue;
  queue.name = "crash";
  queue.if_not_exists = true;
  storage::WorkflowOptions flow;
  flow.name = "crash_flow";
  flow.if_not_exists = true;
  if (!s.CreateQueue(queue).ok() || !s.CreateWorkflow(flow).ok()) fail();
  for (int i = 0;; ++i) {
    std::vector<storage::NewMessage> batch(3);
    for (auto& m : batch) m.payload_json = "{\"i\":" + std::to_string(i) + "}";
    auto ids = s.Enqueue("crash", batch, 0);
    if (!ids.ok()) fail();
    if (write(fd, ids->data(), ids->size() * sizeof(int64_t)) < 0) fail();
    storage::DequeueOptions options;
    options.max_messages = 2;
    auto leased = s.Dequeue("crash", options);
    if (!leased.ok() || leased->empty()) fail();
    std::vector<storage::Lease> acks = {*(*leased)[0].lease};
    if (!s.Ack("crash", acks).ok()) fail();
    if (i % 5 == 0) {
      storage::WorkerRegistration reg;
      reg.name = "w" + std::to_string(i);
      reg.queue = "crash";
      if (!s.RegisterWorker(reg).ok()) fail();
      auto run = s.StartRun({"crash_flow", "{}", ""});
      auto claim = s.ClaimRun("crash_flow", {});
      if (!run.ok() || !claim.ok() || !claim->run) fail();
      storage::RunLease lease{claim->run->id, claim->lease};
      if (!s.BeginStep(lease, "a").ok() || !s.CompleteStep(lease, "a", "{}").ok()) fail();
    }
  }
}

int Rounds() {
  const char* env = std::getenv("PGQRS_CROSS_CRASH_ROUNDS");
  return env ? std::atoi(env) : 3;
}

TEST_CASE("a killed writer's file opens under the other adapter with every acked enqueue",
          "[engine][cross][crash]") {
  auto [writer, reader] =
      GENERATE(std::make_pair("engine", "sqlite"), std::make_pair("sqlite", "engine"));
  const char* tmp = std::getenv("TEST_TMPDIR");
  REQUIRE(tmp != nullptr);
  std::mt19937 rng(std::random_device{}());
  for (int round = 0; round < Rounds(); ++round) {
    std::string path = std::string(tmp) + "/crash_" + writer + "_" + std::to_string(round) + ".db";
    INFO(writer << " killed, " << reader << " reads, round " << round);
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      close(fds[0]);
      ChildWorkload(std::string(writer) + "://" + path, fds[1]);
    }
    close(fds[1]);
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(150, 700)(rng)));
    REQUIRE(kill(child, SIGKILL) == 0);
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    REQUIRE(WIFSIGNALED(status));  // not an early exit from a failed call
    std::vector<int64_t> acked;
    int64_t id;
    while (read(fds[0], &id, sizeof id) == sizeof id) acked.push_back(id);
    close(fds[0]);
    {
      auto store = Ok(storage::OpenStore(std::string(reader) + "://" + path, {}));
      Ok(store->Migrate());
      std::vector<storage::Message> found = Ok(store->GetMessages("crash", acked));
      CHECK(found.size() == acked.size());
      storage::VerifyReport report = Ok(store->Verify());
      CHECK(report.problems.empty());
    }
    CHECK(SqliteIntegrityCheck(path) == std::vector<std::string>{"ok"});
    CHECK(SqliteForeignKeyCheck(path).empty());
    CHECK(!acked.empty());
  }
}

}  // namespace
}  // namespace pgqrs::testing
