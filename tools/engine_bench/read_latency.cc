// Reader latency under a writing load: what a GetQueueCounts-style read costs while enqueues,
// claims and deletes commit (each with its WAL fsync) and automatic checkpoints run.
//
// Writers run transactions of one enqueue, one claim and one delete on a random queue of a
// messages table with a claim index (queue_id, state, priority DESC, vt, id). Readers count a
// random queue's ready and claimed messages over that index and read ten of them by rowid,
// then end with CommitDurable, as the engine:// store does, pausing --read_interval_us between
// reads. Both read modes run in turn:
//   slot     : reads in writing transactions (Database::Begin), one at a time with the writer
//   snapshot : read transactions (Database::BeginRead) beside the writer
//
//   bazel run -c opt //tools/engine_bench:read_latency -- --dir=/tmp/rl --seconds=5
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

#include "absl/synchronization/mutex.h"
#include "engine/db/database.h"
#include "tools/engine_bench/bench_args.h"

namespace {

using pgqrs::engine_bench::Check;
using pgqrs::engine_bench::Die;
using pgqrs::engine_bench::Take;

using pgqrs::engine::ColumnType;
using pgqrs::engine::Database;
using pgqrs::engine::IndexBound;
using pgqrs::engine::IndexRange;
using pgqrs::engine::Row;
using pgqrs::engine::Transaction;
using pgqrs::engine::Value;
using Clock = std::chrono::steady_clock;

struct Config {
  std::string dir = "/tmp/engine_read_latency";
  int seconds = 5;
  int writers = 4;
  int readers = 2;
  int preload = 20000;
  int queues = 10;
  int read_interval_us = 1000;  // pause between a reader's reads (0: back to back)
};

std::unique_ptr<Database> CreateDatabase(const std::string& path, const Config& cfg) {
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  auto db = Take(Database::Open(path, {}), "open");
  auto txn = Take(db->Begin(), "begin");
  Check(txn->CreateTable({"messages",
                          {{"id", ColumnType::kInteger},
                           {"queue_id", ColumnType::kInteger, true},
                           {"state", ColumnType::kInteger, true},
                           {"priority", ColumnType::kInteger, true},
                           {"vt", ColumnType::kInteger, true},
                           {"payload", ColumnType::kBlob}},
                          /*rowid_column=*/0,
                          /*autoincrement=*/true}),
        "create table");
  Check(txn->CreateIndex({"messages_claim",
                          "messages",
                          false,
                          {{"queue_id"}, {"state"}, {"priority", true}, {"vt"}, {"id"}}}),
        "create index");
  std::mt19937_64 rng(1);
  for (int i = 0; i < cfg.preload; ++i) {
    Take(txn->Insert("messages",
                     {Value::Null(), Value::Integer(rng() % cfg.queues), Value::Integer(i % 2),
                      Value::Integer(rng() % 5), Value::Integer(rng() % 1000000),
                      Value::Blob(std::string(100, 'p'))}),
         "preload");
  }
  Check(txn->Commit(), "commit");
  return db;
}

IndexRange QueueState(int64_t queue, int64_t state) {
  IndexRange r;
  r.lower = r.upper = IndexBound{{Value::Integer(queue), Value::Integer(state)}, true};
  return r;
}

// The first message of `queue` in `state`, or 0.
int64_t FirstIn(Transaction* txn, int64_t queue, int64_t state) {
  auto it = Take(txn->ScanIndex("messages_claim", QueueState(queue, state)), "scan");
  return it->Valid() ? it->rowid() : 0;
}

void WriteOnce(Database* db, std::mt19937_64& rng, const Config& cfg) {
  auto txn = Take(db->Begin(), "begin");
  const int64_t queue = rng() % cfg.queues;
  Take(txn->Insert("messages", {Value::Null(), Value::Integer(queue), Value::Integer(0),
                                Value::Integer(rng() % 5), Value::Integer(rng() % 1000000),
                                Value::Blob(std::string(100, 'p'))}),
       "enqueue");
  if (int64_t claim = FirstIn(txn.get(), queue, 0)) {
    Take(txn->Modify("messages", claim,
                     [](Row& r) {
                       r[2] = Value::Integer(1);
                       return absl::OkStatus();
                     }),
         "claim");
  }
  if (int64_t done = FirstIn(txn.get(), queue, 1)) Take(txn->Delete("messages", done), "delete");
  Check(txn->Commit(), "commit");
}

void ReadOnce(Database* db, bool snapshot, std::mt19937_64& rng, const Config& cfg) {
  auto txn = Take(snapshot ? db->BeginRead() : db->Begin(), "begin read");
  const int64_t queue = rng() % cfg.queues;
  std::vector<int64_t> some;
  for (int64_t state : {0, 1}) {
    auto it = Take(txn->ScanIndex("messages_claim", QueueState(queue, state)), "scan");
    for (; it->Valid(); Check(it->Next(), "next")) {
      if (some.size() < 10) some.push_back(it->rowid());
    }
  }
  for (int64_t id : some) Take(txn->Get("messages", id), "get");
  Check(txn->CommitDurable(), "commit durable");
}

struct Result {
  std::vector<double> read_us;
  int64_t writes = 0;
};

Result Run(Database* db, bool snapshot, const Config& cfg) {
  std::atomic<bool> stop{false};
  std::atomic<int64_t> writes{0};
  absl::Mutex mu;
  Result result;
  std::vector<std::thread> threads;
  for (int w = 0; w < cfg.writers; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937_64 rng(100 + w);
      while (!stop) {
        WriteOnce(db, rng, cfg);
        writes.fetch_add(1);
      }
    });
  }
  for (int r = 0; r < cfg.readers; ++r) {
    threads.emplace_back([&, r] {
      std::mt19937_64 rng(200 + r);
      std::vector<double> mine;
      while (!stop) {
        const auto start = Clock::now();
        ReadOnce(db, snapshot, rng, cfg);
        mine.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
        std::this_thread::sleep_for(std::chrono::microseconds(cfg.read_interval_us));
      }
      absl::MutexLock l(&mu);
      result.read_us.insert(result.read_us.end(), mine.begin(), mine.end());
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(cfg.seconds));
  stop = true;
  for (std::thread& t : threads) t.join();
  result.writes = writes.load();
  std::sort(result.read_us.begin(), result.read_us.end());
  return result;
}

double Quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  return sorted[std::min(sorted.size() - 1, static_cast<size_t>(q * sorted.size()))];
}

Config ParseArgs(int argc, char** argv) {
  Config cfg;
  for (int i = 1; i < argc; ++i) {
    auto value = [&](const char* name) { return pgqrs::engine_bench::FlagValue(argv[i], name); };
    if (const char* v = value("dir")) {
      cfg.dir = v;
    } else if (const char* v = value("seconds")) {
      cfg.seconds = std::atoi(v);
    } else if (const char* v = value("writers")) {
      cfg.writers = std::atoi(v);
    } else if (const char* v = value("readers")) {
      cfg.readers = std::atoi(v);
    } else if (const char* v = value("preload")) {
      cfg.preload = std::atoi(v);
    } else if (const char* v = value("read_interval_us")) {
      cfg.read_interval_us = std::atoi(v);
    } else if (const char* v = value("queues")) {
      cfg.queues = std::max(1, std::atoi(v));
    } else {
      Die(std::string("unknown argument ") + argv[i] +
          " (--dir, --seconds, --writers, --readers, --preload, --queues, --read_interval_us)");
    }
  }
  return cfg;
}

}  // namespace

int main(int argc, char** argv) {
  const Config cfg = ParseArgs(argc, argv);
  std::filesystem::create_directories(cfg.dir);
  std::printf("%d writers, %d readers, %d s per mode, %d messages in %d queues\n", cfg.writers,
              cfg.readers, cfg.seconds, cfg.preload, cfg.queues);
  std::printf("%-9s %9s %9s %9s %9s %9s %9s %6s\n", "reads", "reads/s", "p50 us", "p99 us",
              "max us", "writes/s", "wal sync", "load");
  for (bool snapshot : {false, true}) {
    auto db = CreateDatabase(cfg.dir + "/db", cfg);
    const int64_t syncs_before = db->wal_sync_calls();
    Result r = Run(db.get(), snapshot, cfg);
    const int64_t syncs = db->wal_sync_calls() - syncs_before;
    std::printf("%-9s %9.0f %9.0f %9.0f %9.0f %9.0f %9lld %6.2f\n", snapshot ? "snapshot" : "slot",
                r.read_us.size() / double(cfg.seconds), Quantile(r.read_us, 0.5),
                Quantile(r.read_us, 0.99), r.read_us.empty() ? 0 : r.read_us.back(),
                r.writes / double(cfg.seconds), static_cast<long long>(syncs),
                pgqrs::engine_bench::LoadAverage());
    Check(db->Close(), "close");
  }
  return 0;
}
