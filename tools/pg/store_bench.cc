// A quick in-process load test of the Postgres adapter (no gRPC): enqueue and
// dequeue+ack rates with N threads, for named vs unnamed statements.
//
//   store_bench DSN [threads=4] [seconds=3] [unnamed]
//
// With "unnamed" only the unnamed-statement run is made (the one PgBouncer 1.18 allows).
// Each run uses a fresh schema. Prints one line per scenario: calls/s, messages/s and
// latency percentiles.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "storage/dsn.h"
#include "storage/postgres/postgres_store.h"

namespace pgqrs::storage {
namespace {

struct Result {
  int64_t calls = 0;
  int64_t messages = 0;
  std::vector<absl::Duration> latencies;
  int64_t errors = 0;
};

using Op = std::function<absl::StatusOr<int64_t>(Store&)>;  // messages handled

Result Run(Store& store, int threads, absl::Duration duration, const Op& op) {
  std::vector<Result> per(threads);
  absl::Time end = absl::Now() + duration;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      while (absl::Now() < end) {
        absl::Time start = absl::Now();
        absl::StatusOr<int64_t> n = op(store);
        per[t].latencies.push_back(absl::Now() - start);
        ++per[t].calls;
        if (n.ok()) per[t].messages += *n; else ++per[t].errors;
      }
    });
  }
  for (auto& t : pool) t.join();
  Result all;
  for (Result& r : per) {
    all.calls += r.calls;
    all.messages += r.messages;
    all.errors += r.errors;
    all.latencies.insert(all.latencies.end(), r.latencies.begin(), r.latencies.end());
  }
  std::sort(all.latencies.begin(), all.latencies.end());
  return all;
}

void Print(const std::string& name, const Result& r, absl::Duration duration) {
  auto pct = [&](double p) {
    if (r.latencies.empty()) return 0.0;
    size_t i = std::min(r.latencies.size() - 1, static_cast<size_t>(p * r.latencies.size()));
    return absl::ToDoubleMicroseconds(r.latencies[i]);
  };
  double secs = absl::ToDoubleSeconds(duration);
  std::printf("%-34s %9.0f calls/s %9.0f msgs/s  p50 %7.0f us  p99 %7.0f us  errors %lld\n",
              name.c_str(), r.calls / secs, r.messages / secs, pct(0.5), pct(0.99),
              static_cast<long long>(r.errors));
}

int Main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: store_bench DSN [threads] [seconds]\n");
    return 2;
  }
  int threads = argc > 2 ? std::atoi(argv[2]) : 4;
  absl::Duration duration = absl::Seconds(argc > 3 ? std::atoi(argv[3]) : 3);
  bool unnamed_only = argc > 4 && std::string(argv[4]) == "unnamed";
  for (bool prepared : {true, false}) {
    if (prepared && unnamed_only) continue;
    std::string schema = absl::StrCat("bench_", absl::ToUnixMicros(absl::Now()) % 100000000);
    std::string text = absl::StrCat(argv[1], "?schema=", schema);
    absl::StatusOr<Dsn> dsn = ParseDsn(text);
    PostgresOptions options;
    options.pool_size = threads;
    // Through a transaction-pooling PgBouncer only unnamed statements work.
    options.prepared_statements = prepared;
    absl::StatusOr<std::unique_ptr<Store>> store =
        dsn.ok() ? OpenPostgresStore(*dsn, options) : dsn.status();
    if (!store.ok() || !(*store)->Migrate().ok()) {
      std::fprintf(stderr, "open failed: %s\n", store.status().ToString().c_str());
      return 1;
    }
    QueueOptions q;
    q.name = "bench";
    // A fresh schema: the queue cannot exist, and a failure shows in every line below.
    (*store)->CreateQueue(q).IgnoreError();
    const char* mode = prepared ? "named" : "unnamed";
    std::vector<NewMessage> one(1), hundred(100);
    for (NewMessage& m : hundred) m.payload_json = R"({"k":"0123456789abcdef"})";
    one[0].payload_json = hundred[0].payload_json;
    Print(absl::StrCat("enqueue x1 (", mode, ")"),
          Run(**store, threads, duration, [&](Store& s) -> absl::StatusOr<int64_t> {
            auto r = s.Enqueue("bench", one, 0);
            if (!r.ok()) return r.status();
            return 1;
          }), duration);
    Print(absl::StrCat("enqueue x100 (", mode, ")"),
          Run(**store, threads, duration, [&](Store& s) -> absl::StatusOr<int64_t> {
            auto r = s.Enqueue("bench", hundred, 0);
            if (!r.ok()) return r.status();
            return 100;
          }), duration);
    for (int batch : {1, 10}) {
      Print(absl::StrCat("dequeue+ack x", batch, " (", mode, ")"),
            Run(**store, threads, duration, [&](Store& s) -> absl::StatusOr<int64_t> {
              DequeueOptions d;
              d.max_messages = batch;
              auto got = s.Dequeue("bench", d);
              if (!got.ok()) return got.status();
              std::vector<Lease> leases;
              for (const Message& m : *got) leases.push_back(*m.lease);
              if (leases.empty()) return 0;
              auto acked = s.Ack("bench", leases);
              if (!acked.ok()) return acked.status();
              return static_cast<int64_t>(leases.size());
            }), duration);
    }
  }
  return 0;
}

}  // namespace
}  // namespace pgqrs::storage

int main(int argc, char** argv) { return pgqrs::storage::Main(argc, argv); }
