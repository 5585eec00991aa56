// Concurrent writers: commits per second of N threads running small update transactions, with
// exclusive transactions (mvcc off: Begin) and with concurrent ones (mvcc on: BeginConcurrent).
//
// A table of `rows` registers (id, owner, counter, payload) with an index on (owner, counter).
// Each transaction reads one row and updates its counter and payload (the index entry moves),
// then commits (WAL fsync, group commit). Thread i picks rows it owns (disjoint rows: no
// conflicts); with --hot_percent=P, P% of transactions pick one of 8 shared rows instead and
// may lose a write conflict, which is retried (a retry counts as a conflict, not a commit).
// --think_us=N sleeps N microseconds inside each transaction before it commits, standing for
// work between its statements (a server's calls, a scan): an exclusive transaction holds the
// writer slot meanwhile, a concurrent one does not.
// Each configuration runs --rounds times, alternating, and the median round is printed.
//
//   bazel build -c opt //tools/engine_bench:concurrent_writers
//   bazel-bin/tools/engine_bench/concurrent_writers --dir=/tmp/cw --seconds=3
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/db/database.h"
#include "tools/engine_bench/bench_args.h"

namespace {

using pgqrs::engine_bench::Check;
using pgqrs::engine_bench::Die;
using pgqrs::engine_bench::Take;

using pgqrs::engine::ColumnType;
using pgqrs::engine::Database;
using pgqrs::engine::DatabaseOptions;
using pgqrs::engine::Row;
using pgqrs::engine::Transaction;
using pgqrs::engine::Value;
using Clock = std::chrono::steady_clock;

constexpr int kHotRows = 8;

struct Config {
  std::string dir = "/tmp/engine_concurrent_writers";
  double seconds = 3;
  int rows = 20000;
  int hot_percent = 0;
  int rounds = 3;
  int think_us = 0;
  std::vector<int> threads = {1, 2, 4, 8};
};

struct Result {
  double commits_per_s = 0;
  double conflict_rate = 0;  // conflicts / (commits + conflicts)
  double syncs_per_commit = 0;
};

std::unique_ptr<Database> CreateDatabase(const std::string& path, const Config& cfg, bool mvcc) {
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  DatabaseOptions opts;
  opts.mvcc = mvcc;
  auto db = Take(Database::Open(path, opts), "open");
  auto txn = Take(db->Begin(), "begin");
  Check(txn->CreateTable({"registers",
                          {{"id", ColumnType::kInteger},
                           {"owner", ColumnType::kInteger, true},
                           {"counter", ColumnType::kInteger, true},
                           {"payload", ColumnType::kBlob}},
                          /*rowid_column=*/0}),
        "create table");
  Check(txn->CreateIndex({"registers_owner", "registers", false, {{"owner"}, {"counter"}}}),
        "create index");
  for (int i = 1; i <= cfg.rows; ++i) {
    Check(txn->Insert("registers", {Value::Integer(i), Value::Integer(i % 64), Value::Integer(0),
                                    Value::Blob(std::string(100, 'p'))})
              .status(),
          "preload");
  }
  Check(txn->Commit(), "commit preload");
  Check(db->Checkpoint(), "checkpoint");
  return db;
}

// Thread `t` of `n` owns the rows id with id % n == t (excluding the hot ones).
int64_t PickRow(std::mt19937_64& rng, int t, int n, const Config& cfg) {
  if (static_cast<int>(rng() % 100) < cfg.hot_percent) return 1 + rng() % kHotRows;
  const int64_t per_thread = (cfg.rows - kHotRows) / n;
  return kHotRows + 1 + t + n * static_cast<int64_t>(rng() % per_thread);
}

// One update transaction; returns false on a write conflict.
bool UpdateOnce(Database* db, bool mvcc, int64_t id, int think_us, std::mt19937_64& rng) {
  std::unique_ptr<Transaction> txn =
      Take(mvcc ? db->BeginConcurrent() : db->Begin(), "begin transaction");
  absl::StatusOr<bool> changed = txn->Modify("registers", id, [&](Row& row) {
    row[2] = Value::Integer(row[2].integer() + 1);
    row[3] = Value::Blob(std::string(100, 'a' + rng() % 26));
    return absl::OkStatus();
  });
  if (pgqrs::engine::IsWriteConflict(changed.status())) return false;  // known before commit
  if (!Take(std::move(changed), "modify")) Die("row missing");
  if (think_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(think_us));
  absl::Status s = txn->Commit();
  if (pgqrs::engine::IsWriteConflict(s)) return false;
  Check(s, "commit");
  return true;
}

Result Run(const Config& cfg, bool mvcc, int threads, int round) {
  auto db = CreateDatabase(cfg.dir + "/db", cfg, mvcc);
  const int64_t syncs_before = db->wal_sync_calls();
  std::atomic<int64_t> commits{0}, conflicts{0};
  const auto deadline =
      Clock::now() + std::chrono::microseconds(static_cast<int64_t>(cfg.seconds * 1e6));
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937_64 rng(1000 * round + t);
      while (Clock::now() < deadline) {
        const int64_t id = PickRow(rng, t, threads, cfg);
        while (!UpdateOnce(db.get(), mvcc, id, cfg.think_us, rng)) conflicts.fetch_add(1);
        commits.fetch_add(1);
      }
    });
  }
  for (std::thread& w : workers) w.join();
  Result r;
  r.commits_per_s = commits / cfg.seconds;
  r.conflict_rate = double(conflicts) / std::max<int64_t>(1, commits + conflicts);
  r.syncs_per_commit = double(db->wal_sync_calls() - syncs_before) / std::max<int64_t>(1, commits);
  Check(db->Close(), "close");
  return r;
}

Config ParseArgs(int argc, char** argv) {
  Config cfg;
  for (int i = 1; i < argc; ++i) {
    auto value = [&](const char* name) { return pgqrs::engine_bench::FlagValue(argv[i], name); };
    if (const char* v = value("dir")) {
      cfg.dir = v;
    } else if (const char* v = value("seconds")) {
      cfg.seconds = std::atof(v);
    } else if (const char* v = value("rows")) {
      cfg.rows = std::max(1000, std::atoi(v));
    } else if (const char* v = value("hot_percent")) {
      cfg.hot_percent = std::clamp(std::atoi(v), 0, 100);
    } else if (const char* v = value("rounds")) {
      cfg.rounds = std::max(1, std::atoi(v));
    } else if (const char* v = value("think_us")) {
      cfg.think_us = std::max(0, std::atoi(v));
    } else if (const char* v = value("threads")) {
      cfg.threads = {std::max(1, std::atoi(v))};
    } else {
      Die(std::string("unknown argument ") + argv[i] +
          " (--dir, --seconds, --rows, --hot_percent, --rounds, --think_us, --threads)");
    }
  }
  return cfg;
}

}  // namespace

int main(int argc, char** argv) {
  const Config cfg = ParseArgs(argc, argv);
  std::filesystem::create_directories(cfg.dir);
  std::printf(
      "%d rows, %g s per run, %d%% of transactions on %d shared rows, %d us think time, median "
      "of %d\n",
      cfg.rows, cfg.seconds, cfg.hot_percent, kHotRows, cfg.think_us, cfg.rounds);
  std::printf("%-7s %5s %10s %10s %11s %6s\n", "threads", "mvcc", "commits/s", "conflicts",
              "syncs/commit", "load");
  for (int threads : cfg.threads) {
    std::vector<Result> off, on;
    for (int round = 0; round < cfg.rounds; ++round) {
      off.push_back(Run(cfg, false, threads, round));
      on.push_back(Run(cfg, true, threads, round));
    }
    for (auto* results : {&off, &on}) {
      std::sort(results->begin(), results->end(),
                [](const Result& a, const Result& b) { return a.commits_per_s < b.commits_per_s; });
      const Result& median = (*results)[results->size() / 2];
      std::printf("%-7d %5s %10.0f %9.1f%% %11.2f %6.2f\n", threads, results == &on ? "on" : "off",
                  median.commits_per_s, 100 * median.conflict_rate, median.syncs_per_commit,
                  pgqrs::engine_bench::LoadAverage());
    }
  }
  return 0;
}
