#include "tools/bench/workload.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <future>
#include <thread>

#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "engine/base/status_macros.h"
#include "tools/bench/payload.h"
#include "tools/bench/proc_stats.h"
#include "tools/bench/progress.h"

namespace pgqrs::bench {
namespace {

enum Phase : int { kWarmup, kMeasure, kStop };

constexpr int kPreloadBatch = 1000;
constexpr absl::Duration kErrorPause = absl::Milliseconds(1);
constexpr absl::Duration kTick = absl::Milliseconds(50);

// One worker's figures, merged into the result when the worker ends.
struct Recorder {
  Histogram latency;
  std::map<std::string, Histogram> calls;
  std::map<std::string, int64_t> errors;
};

// State every worker of one run shares.
struct Shared {
  explicit Shared(const WorkloadOptions& o) : options(o), backlog_limit(EffectiveBacklog(o)) {}

  bool Measuring() const { return phase.load(std::memory_order_relaxed) == kMeasure; }
  bool Stopped() const { return phase.load(std::memory_order_relaxed) == kStop; }
  // Ends the measured phase (once) and notes when.
  void Stop() {
    int expected = kMeasure;
    if (phase.compare_exchange_strong(expected, kStop)) stop_nanos.store(MonotonicNanos());
  }
  // Counts `n` completed messages; ends the run once the target count is reached.
  void Complete(int64_t n) {
    int64_t done = completed.fetch_add(n, std::memory_order_relaxed) + n;
    int64_t target = options.scenario == Scenario::kDrain ? options.preload : options.messages;
    if (target > 0 && done >= target) Stop();
  }

  const WorkloadOptions& options;
  const int64_t backlog_limit;
  std::atomic<int> phase{kWarmup};
  std::atomic<int64_t> completed{0};  // messages completed in the measured phase
  std::atomic<int64_t> backlog{0};    // enqueued and not yet acked
  std::atomic<int64_t> errors{0};
  std::atomic<int64_t> stop_nanos{0};

  absl::Mutex mu;
  RunResult* result ABSL_GUARDED_BY(mu) = nullptr;
};

void CountError(Shared& shared, Recorder& rec, const absl::Status& status) {
  shared.errors.fetch_add(1, std::memory_order_relaxed);
  ++rec.errors[absl::StatusCodeToString(status.code())];
  absl::SleepFor(kErrorPause);
}

void Merge(Shared& shared, const Recorder& rec) {
  absl::MutexLock lock(&shared.mu);
  RunResult& r = *shared.result;
  r.latency.Merge(rec.latency);
  for (const auto& [name, h] : rec.calls) r.calls[name].Merge(h);
  for (const auto& [code, n] : rec.errors) r.errors[code] += n;
}

// A call a worker has sent and not yet collected the answer of.
struct InFlight {
  std::future<Answer> answer;
  int64_t started_nanos;         // the worker began the cycle (a consumer: its Dequeue)
  int64_t sent_nanos;            // the call was sent
  std::vector<Leased> messages;  // an Ack's messages
};

// A worker's calls in flight, oldest first, at most `window` (Shared::options.window).
// Each answer is handed to `settle` on the worker's own thread, so its accounting needs
// no lock whatever thread the answer arrived on.
class Window {
 public:
  using Settle = std::function<void(const InFlight&, const Answer&)>;
  Window(int size, Settle settle) : size_(size), settle_(std::move(settle)) {}

  bool full() const { return static_cast<int>(calls_.size()) >= size_; }
  bool empty() const { return calls_.empty(); }
  void Add(InFlight call) { calls_.push_back(std::move(call)); }

  // Settles the calls answered so far, oldest first, up to the first one still waiting.
  void SettleAnswered() {
    while (!calls_.empty() &&
           calls_.front().answer.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
      SettleOldest();
    }
  }
  // Waits for the oldest call's answer and settles it. REQUIRES: !empty().
  void SettleOldest() {
    InFlight call = std::move(calls_.front());
    calls_.pop_front();
    settle_(call, call.answer.get());
  }
  void SettleAll() {
    while (!calls_.empty()) SettleOldest();
  }

 private:
  const int size_;
  const Settle settle_;
  std::deque<InFlight> calls_;
};

void ProducerLoop(Shared& shared, Session& session, uint64_t seed) {
  const WorkloadOptions& o = shared.options;
  const bool lifecycle = o.scenario == Scenario::kLifecycle;
  PayloadMaker maker(o.payload_bytes, seed);
  Recorder rec;
  Window window(o.window, [&](const InFlight& call, const Answer& answer) {
    bool measuring = shared.Measuring();
    if (!answer.status.ok()) {
      if (measuring) CountError(shared, rec, answer.status);
      return;
    }
    shared.backlog.fetch_add(o.batch, std::memory_order_relaxed);
    if (!measuring) return;
    int64_t took = answer.arrived_nanos - call.sent_nanos;
    rec.calls["enqueue"].Record(took);
    if (!lifecycle) {
      rec.latency.Record(took);
      shared.Complete(o.batch);
    }
  });
  std::vector<std::string> batch(o.batch);
  while (!shared.Stopped()) {
    window.SettleAnswered();
    if (window.full()) {
      window.SettleOldest();
      continue;
    }
    if (lifecycle && shared.backlog.load(std::memory_order_relaxed) >= shared.backlog_limit) {
      absl::SleepFor(absl::Microseconds(50));
      continue;
    }
    int64_t t0 = MonotonicNanos();
    for (std::string& body : batch) body = maker.Make(t0);
    window.Add({session.StartEnqueue(batch), t0, t0, {}});
  }
  window.SettleAll();
  Merge(shared, rec);
}

void ConsumerLoop(Shared& shared, Session& session) {
  const WorkloadOptions& o = shared.options;
  const bool drain = o.scenario == Scenario::kDrain;
  Recorder rec;
  Window window(o.window, [&](const InFlight& call, const Answer& answer) {
    bool measuring = shared.Measuring();
    if (!answer.status.ok()) {
      if (measuring) CountError(shared, rec, answer.status);
      return;
    }
    auto n = static_cast<int64_t>(call.messages.size());
    shared.backlog.fetch_sub(n, std::memory_order_relaxed);
    if (!measuring) return;
    int64_t t2 = answer.arrived_nanos;
    rec.calls["ack"].Record(t2 - call.sent_nanos);
    if (drain) {
      rec.latency.Record(t2 - call.started_nanos);
    } else {
      for (const Leased& m : call.messages) {
        if (std::optional<int64_t> stamp = StampOf(m.payload)) rec.latency.Record(t2 - *stamp);
      }
    }
    shared.Complete(n);
  });
  while (!shared.Stopped()) {
    window.SettleAnswered();
    if (window.full()) {
      window.SettleOldest();
      continue;
    }
    // With acks in flight, take only what has arrived: the acks free the credits that
    // bring the next messages.
    absl::Duration wait = window.empty() ? o.dequeue_wait : absl::ZeroDuration();
    int64_t t0 = MonotonicNanos();
    absl::StatusOr<std::vector<Leased>> leased = session.Dequeue(o.batch, wait);
    int64_t t1 = MonotonicNanos();
    if (!leased.ok()) {
      if (shared.Measuring()) CountError(shared, rec, leased.status());
      continue;
    }
    if (leased->empty()) {
      if (!window.empty()) window.SettleOldest();
      continue;
    }
    if (shared.Measuring()) rec.calls["dequeue"].Record(t1 - t0);
    std::future<Answer> answer = session.StartAck(*leased);
    window.Add({std::move(answer), t0, t1, *std::move(leased)});
  }
  window.SettleAll();
  Merge(shared, rec);
}

// Enqueues `count` messages through one session before the run (drain's preload,
// lifecycle's pending depth).
absl::Status Preload(Target& target, const WorkloadOptions& o, int64_t count, Progress& progress) {
  PGQRS_ASSIGN_OR_RETURN(std::unique_ptr<Session> session, target.NewSession());
  PayloadMaker maker(o.payload_bytes, o.seed);
  for (int64_t loaded = 0; loaded < count;) {
    int n = static_cast<int>(std::min<int64_t>(kPreloadBatch, count - loaded));
    std::vector<std::string> batch(n, maker.Make(MonotonicNanos()));
    PGQRS_RETURN_IF_ERROR(session->Enqueue(batch));
    loaded += n;
    progress.Show(absl::StrFormat("preload %d / %d", loaded, count));
  }
  return absl::OkStatus();
}

std::string ProgressLine(const Shared& shared, absl::Time start, int64_t* last_done,
                         absl::Time* last_time) {
  absl::Time now = absl::Now();
  int64_t done = shared.completed.load();
  double rate = (done - *last_done) / std::max(1e-9, absl::ToDoubleSeconds(now - *last_time));
  *last_done = done;
  *last_time = now;
  return absl::StrFormat("%s %5.1f s  %d messages  %.0f msg/s  %d errors",
                         shared.Measuring() ? "measure" : "stopping",
                         absl::ToDoubleSeconds(now - start), done, rate, shared.errors.load());
}

// The observed process's CPU use over the measured phase, and its threads and memory at
// the end of it.
nlohmann::json ObserveDaemon(int pid, const ProcessStats& before, absl::Duration elapsed,
                             int64_t messages) {
  absl::StatusOr<ProcessStats> after = ReadProcessStats(pid);
  if (!after.ok()) return {{"error", std::string(after.status().message())}};
  nlohmann::json j = ToJson(*after);
  double cpu = after->cpu_seconds - before.cpu_seconds;
  j["cpu_s"] = cpu;
  j["cpu_cores"] = cpu / std::max(1e-9, absl::ToDoubleSeconds(elapsed));
  // Per message: what one message costs the daemon, whatever the machine's other load.
  double n = static_cast<double>(std::max<int64_t>(1, messages));
  j["cpu_us_per_msg"] = cpu * 1e6 / n;
  j["ctx_switches_per_msg"] =
      static_cast<double>(after->context_switches - before.context_switches) / n;
  return j;
}

// Switches phases and draws progress until the measured phase is over. Sets the
// result's elapsed time, client CPU and (when observing one) the daemon's figures.
void Drive(Shared& shared, Progress& progress, RunResult& result) {
  const WorkloadOptions& o = shared.options;
  if (o.scenario != Scenario::kDrain) {
    for (absl::Time end = absl::Now() + o.warmup; absl::Now() < end;) {
      progress.Show("warm-up");
      absl::SleepFor(std::min(kTick, end - absl::Now()));
    }
  }
  ProcessStats daemon_before;
  if (o.observe_pid > 0) daemon_before = ReadProcessStats(o.observe_pid).value_or(daemon_before);
  double cpu_before = ProcessCpuSeconds();
  absl::Time start = absl::Now();
  int64_t start_nanos = MonotonicNanos();
  shared.phase.store(kMeasure);
  int64_t last_done = 0;
  absl::Time last_time = start;
  while (!shared.Stopped()) {
    absl::SleepFor(kTick);
    if (absl::Now() - start >= o.duration) shared.Stop();
    if (!shared.Stopped()) progress.Show(ProgressLine(shared, start, &last_done, &last_time));
  }
  while (shared.stop_nanos.load() == 0) std::this_thread::yield();  // Stop() is finishing
  result.elapsed = absl::Nanoseconds(shared.stop_nanos.load() - start_nanos);
  result.client_cpu_seconds = ProcessCpuSeconds() - cpu_before;
  if (o.observe_pid > 0) {
    result.extra["daemon"] =
        ObserveDaemon(o.observe_pid, daemon_before, result.elapsed, shared.completed.load());
  }
}

}  // namespace

absl::StatusOr<RunResult> RunWorkload(Target& target, const WorkloadOptions& requested) {
  WorkloadOptions options = requested;
  if (!target.pipelines()) options.window = 1;
  RunResult result;
  result.target = target.name();
  result.options = options;
  result.latency_name = options.scenario == Scenario::kEnqueue ? "enqueue_call"
                        : options.scenario == Scenario::kDrain ? "dequeue_ack_cycle"
                                                               : "enqueue_to_ack";
  PGQRS_RETURN_IF_ERROR(target.Setup());
  Progress progress(options.progress);
  if (options.scenario == Scenario::kDrain) {
    PGQRS_RETURN_IF_ERROR(Preload(target, options, options.preload, progress));
  } else if (options.scenario == Scenario::kLifecycle && options.pending > 0) {
    PGQRS_RETURN_IF_ERROR(Preload(target, options, options.pending, progress));
  }
  int producers = options.scenario == Scenario::kDrain ? 0 : options.producers;
  int consumers = options.scenario == Scenario::kEnqueue ? 0 : options.consumers;
  std::vector<std::unique_ptr<Session>> sessions;
  for (int i = 0; i < producers + consumers; ++i) {
    PGQRS_ASSIGN_OR_RETURN(std::unique_ptr<Session> s, target.NewSession());
    sessions.push_back(std::move(s));
  }

  Shared shared(options);
  {
    absl::MutexLock lock(&shared.mu);
    shared.result = &result;
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < producers; ++i) {
    threads.emplace_back(ProducerLoop, std::ref(shared), std::ref(*sessions[i]),
                         options.seed * 1000003 + i);
  }
  for (int i = 0; i < consumers; ++i) {
    threads.emplace_back(ConsumerLoop, std::ref(shared), std::ref(*sessions[producers + i]));
  }
  Drive(shared, progress, result);
  for (std::thread& t : threads) t.join();
  result.messages = shared.completed.load();
  sessions.clear();
  target.Teardown().IgnoreError();  // best effort: the numbers are already taken
  return result;
}

}  // namespace pgqrs::bench
