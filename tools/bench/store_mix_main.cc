// store-mix: the message lifecycle (enqueue one, dequeue one, ack it) from several threads of
// one process on a storage::Store, in three mixes that show what concurrent writers
// (engine://...?mvcc=on) change:
//   spread  : writer thread i works on queue i % --queues
//   hot     : every writer thread works on one queue
//   readers : the spread mix, plus --readers threads calling GetQueueCounts, GetMessages and
//             ListQueues in turn (one call every --read_interval_us); their latency is
//             measured beside the writers, and alone (idle) for half the run length before
//             them and half after them: the writers grow the archive the reads count, so idle
//             reads see the data the busy ones saw on average
// Each queue holds --pending messages before the run, so a dequeue always finds work.
// Output: one JSON line on stdout (msgs/s, write conflicts and retries per message, reader
// p50/p99), a summary on stderr. tools/bench/mvcc_matrix.sh runs every mix at 1-8 threads.
//
//   store-mix --dsn='engine:///tmp/mix.db?mvcc=on' --mix=hot --threads=4 --seconds=5
#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "engine/base/status_macros.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"
#include "storage/dsn.h"
#include "storage/open_store.h"
#include "tools/bench/histogram.h"

ABSL_FLAG(std::string, dsn, "engine:///tmp/pgqrs-store-mix.db", "storage DSN (a fresh file)");
ABSL_FLAG(std::string, mix, "spread", "spread, hot or readers");
ABSL_FLAG(int32_t, threads, 1, "writer threads");
ABSL_FLAG(int32_t, queues, 8, "queues of the spread and readers mixes");
ABSL_FLAG(int32_t, readers, 2, "reader threads of the readers mix");
ABSL_FLAG(int32_t, read_interval_us, 1000, "pause between one reader's calls");
ABSL_FLAG(int32_t, pending, 200, "messages per queue loaded before the run");
ABSL_FLAG(double, seconds, 5,
          "length of the measured phase (and of the idle reader phases together)");

namespace pgqrs::bench {
namespace {

using storage::Store;

struct Config {
  std::string mix;
  int threads = 1;
  int queues = 8;
  int readers = 0;
  absl::Duration read_interval;
  int pending = 0;
  absl::Duration length;
};

std::string QueueName(int i) { return absl::StrCat("mix-", i); }

absl::Status Prepare(Store& store, const Config& config) {
  PGQRS_RETURN_IF_ERROR(store.Migrate().status());
  std::vector<storage::NewMessage> batch(100);
  for (storage::NewMessage& m : batch) m.payload_json = R"({"mix":true})";
  for (int q = 0; q < config.queues; ++q) {
    storage::QueueOptions options;
    options.name = QueueName(q);
    options.if_not_exists = true;
    PGQRS_RETURN_IF_ERROR(store.CreateQueue(options).status());
    for (int n = 0; n < config.pending; n += 100) {
      PGQRS_RETURN_IF_ERROR(store.Enqueue(options.name, batch, 0).status());
    }
  }
  return absl::OkStatus();
}

// One lifecycle on `queue`; true when a message was acked.
absl::StatusOr<bool> Lifecycle(Store& store, const std::string& queue) {
  storage::NewMessage m;
  m.payload_json = R"({"mix":true})";
  PGQRS_RETURN_IF_ERROR(store.Enqueue(queue, {&m, 1}, 0).status());
  storage::DequeueOptions options;
  options.max_messages = 1;
  PGQRS_ASSIGN_OR_RETURN(std::vector<storage::Message> got, store.Dequeue(queue, options));
  if (got.empty()) return false;
  PGQRS_ASSIGN_OR_RETURN(std::vector<storage::LeaseOutcome> outcome,
                         store.Ack(queue, {&*got[0].lease, 1}));
  return outcome[0] == storage::LeaseOutcome::kOk;
}

struct Shared {
  std::atomic<bool> stop{false};
  std::atomic<int64_t> acked{0};
  std::atomic<int64_t> errors{0};
  std::atomic<bool> error_shown{false};
};

void Fail(Shared& shared, const absl::Status& status) {
  ++shared.errors;
  if (!shared.error_shown.exchange(true)) {
    std::fprintf(stderr, "store-mix: %s\n", status.ToString().c_str());
  }
}

void Writer(Store& store, const std::string& queue, Shared& shared) {
  while (!shared.stop) {
    absl::StatusOr<bool> acked = Lifecycle(store, queue);
    if (!acked.ok()) {
      Fail(shared, acked.status());
    } else if (*acked) {
      ++shared.acked;
    }
  }
}

// The three reads in turn, each timed, until stop.
void Reader(Store& store, const Config& config, int seed, Shared& shared, Histogram& latency) {
  for (int i = seed; !shared.stop; ++i) {
    const std::string queue = QueueName(i % config.queues);
    const int64_t ids[] = {i % 1000 + 1, i % 1000 + 2, i % 1000 + 3};
    absl::Time start = absl::Now();
    absl::Status status;
    switch (i % 3) {
      case 0:
        status = store.GetQueueCounts(queue).status();
        break;
      case 1:
        status = store.GetMessages(queue, ids).status();
        break;
      default:
        status = store.ListQueues("", 100).status();
    }
    latency.Record(absl::ToInt64Nanoseconds(absl::Now() - start));
    if (!status.ok()) Fail(shared, status);
    absl::SleepFor(config.read_interval);
  }
}

// Runs `writers` writer threads (and config.readers readers when `readers`) for the run length;
// returns the readers' latencies.
Histogram Phase(Store& store, const Config& config, int writers, bool readers, Shared& shared) {
  std::vector<Histogram> latencies(readers ? config.readers : 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < writers; ++i) {
    const int queue = config.mix == "hot" ? 0 : i % config.queues;
    threads.emplace_back(Writer, std::ref(store), QueueName(queue), std::ref(shared));
  }
  for (size_t i = 0; i < latencies.size(); ++i) {
    threads.emplace_back(Reader, std::ref(store), std::cref(config), static_cast<int>(i),
                         std::ref(shared), std::ref(latencies[i]));
  }
  absl::SleepFor(config.length);
  shared.stop = true;
  for (std::thread& t : threads) t.join();
  Histogram merged;
  for (const Histogram& h : latencies) merged.Merge(h);
  return merged;
}

double Ms(int64_t nanos) { return static_cast<double>(nanos) / 1e6; }

absl::Status Run(const std::string& dsn, const Config& config) {
  PGQRS_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, storage::OpenStore(dsn, {}));
  PGQRS_RETURN_IF_ERROR(Prepare(*store, config));
  const bool with_readers = config.mix == "readers";
  Config idle_config = config;
  idle_config.length = config.length / 2;
  Histogram idle_before, idle_after;
  if (with_readers) {
    Shared alone;
    idle_before = Phase(*store, idle_config, 0, true, alone);
  }
  const storage::CommitStats before = store->GetCommitStats().value_or(storage::CommitStats());
  Shared shared;
  const absl::Time start = absl::Now();
  Histogram busy = Phase(*store, config, config.threads, with_readers, shared);
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const storage::CommitStats after = store->GetCommitStats().value_or(storage::CommitStats());
  if (with_readers) {
    Shared alone;
    idle_after = Phase(*store, idle_config, 0, true, alone);
  }
  Histogram idle = idle_before;
  idle.Merge(idle_after);

  const double msgs = static_cast<double>(shared.acked);
  const double per_msg = msgs > 0 ? 1 / msgs : 0;
  const int64_t conflicts = after.write_conflicts - before.write_conflicts;
  const int64_t retried = after.write_retried_calls - before.write_retried_calls;
  const int64_t exclusive = after.write_exclusive_attempts - before.write_exclusive_attempts;
  std::string json = absl::StrFormat(
      R"({"tool":"store-mix","dsn":"%s","mix":"%s","threads":%d,"seconds":%.1f,)"
      R"("msgs_per_s":%.0f,"errors":%d,"conflicts_per_msg":%.4f,"retried_calls_per_msg":%.4f,)"
      R"("exclusive_per_msg":%.4f)",
      storage::RedactDsn(dsn), config.mix, config.threads, seconds, msgs / seconds,
      shared.errors.load(), conflicts * per_msg, retried * per_msg, exclusive * per_msg);
  std::string summary = absl::StrFormat(
      "%-8s threads=%d  %8.0f msgs/s  conflicts/msg %.3f  retried/msg %.3f", config.mix,
      config.threads, msgs / seconds, conflicts * per_msg, retried * per_msg);
  if (with_readers) {
    absl::StrAppendFormat(&json,
                          R"(,"reads":%d,"idle_p50_ms":%.3f,"idle_p99_ms":%.3f,)"
                          R"("idle_before_p99_ms":%.3f,"idle_after_p99_ms":%.3f,)"
                          R"("busy_p50_ms":%.3f,"busy_p99_ms":%.3f)",
                          busy.count(), Ms(idle.Percentile(0.5)), Ms(idle.Percentile(0.99)),
                          Ms(idle_before.Percentile(0.99)), Ms(idle_after.Percentile(0.99)),
                          Ms(busy.Percentile(0.5)), Ms(busy.Percentile(0.99)));
    absl::StrAppendFormat(&summary, "  reads p50/p99 idle %.2f/%.2f ms, with writers %.2f/%.2f ms",
                          Ms(idle.Percentile(0.5)), Ms(idle.Percentile(0.99)),
                          Ms(busy.Percentile(0.5)), Ms(busy.Percentile(0.99)));
  }
  std::printf("%s}\n", json.c_str());
  std::fprintf(stderr, "%s\n", summary.c_str());
  return shared.errors == 0 ? absl::OkStatus()
                            : absl::InternalError(absl::StrCat(shared.errors.load(), " errors"));
}

absl::StatusOr<Config> ConfigFromFlags() {
  Config config;
  config.mix = absl::GetFlag(FLAGS_mix);
  config.threads = absl::GetFlag(FLAGS_threads);
  config.queues = config.mix == "hot" ? 1 : absl::GetFlag(FLAGS_queues);
  config.readers = absl::GetFlag(FLAGS_readers);
  config.read_interval = absl::Microseconds(absl::GetFlag(FLAGS_read_interval_us));
  config.pending = absl::GetFlag(FLAGS_pending);
  config.length = absl::Seconds(absl::GetFlag(FLAGS_seconds));
  if (config.mix != "spread" && config.mix != "hot" && config.mix != "readers") {
    return absl::InvalidArgumentError("--mix: expected spread, hot or readers");
  }
  if (config.threads < 1 || config.queues < 1 || config.readers < 1 || config.pending < 0) {
    return absl::InvalidArgumentError("--threads, --queues and --readers must be positive");
  }
  return config;
}

int Main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_logger_mt("store-mix"));
  absl::ParseCommandLine(argc, argv);
  absl::StatusOr<Config> config = ConfigFromFlags();
  if (!config.ok()) {
    std::fprintf(stderr, "store-mix: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  absl::Status status = Run(absl::GetFlag(FLAGS_dsn), *config);
  if (!status.ok()) {
    std::fprintf(stderr, "store-mix: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace pgqrs::bench

int main(int argc, char** argv) { return pgqrs::bench::Main(argc, argv); }
