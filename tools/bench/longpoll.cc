#include "tools/bench/longpoll.h"

#include <unistd.h>

#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "engine/base/status_macros.h"
#include "proto/pgqrs/v1/queue.grpc.pb.h"
#include "tools/bench/channels.h"
#include "tools/bench/payload.h"
#include "tools/bench/proc_stats.h"
#include "tools/bench/progress.h"

namespace pgqrs::bench {
namespace {

constexpr int kWarmupWakes = 10;
constexpr absl::Duration kWakeTimeout = absl::Seconds(10);
constexpr absl::Duration kPause = absl::Milliseconds(5);
constexpr absl::Duration kCallSlack = absl::Seconds(30);

// Keeps `parked` Dequeue calls outstanding: each call that ends is replaced at once.
//
// Thread safety: all methods may be called from any thread; gRPC runs the callbacks.
class Parker {
 public:
  Parker(const LongPollOptions& options, std::string queue) : options_(options), queue_(queue) {
    for (int i = 0; i < std::max(1, options.channels); ++i) {
      stubs_.push_back(v1::QueueService::NewStub(NewChannel(options.server, options.identity, 1000 + i)));
    }
  }

  // Starts one more parked call.
  void ParkOne() {
    auto* call = new Call;
    call->req.set_queue(queue_);
    call->req.set_max_messages(1);
    call->req.set_wait_ms(absl::ToInt64Milliseconds(options_.wait));
    call->ctx.set_deadline(absl::ToChronoTime(absl::Now() + options_.wait + kCallSlack));
    int n;
    {
      absl::MutexLock lock(&mu_);
      live_.insert(call);
      n = next_stub_++;
    }
    stubs_[n % stubs_.size()]->async()->Dequeue(
        &call->ctx, &call->req, &call->resp,
        [this, call](grpc::Status status) { OnDone(call, status); });
  }

  // Waits for the next wake after `seen` wakes; returns when it happened, or -1.
  int64_t AwaitWake(int64_t seen) {
    absl::MutexLock lock(&mu_);
    auto woke = [this, seen]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return woken_ > seen; };
    if (!mu_.AwaitWithTimeout(absl::Condition(&woke), kWakeTimeout)) return -1;
    return last_wake_nanos_;
  }

  int64_t woken() {
    absl::MutexLock lock(&mu_);
    return woken_;
  }

  // Cancels every outstanding call and waits until gRPC is done with them.
  void Stop() {
    std::vector<Call*> live;
    {
      absl::MutexLock lock(&mu_);
      running_ = false;
      live.assign(live_.begin(), live_.end());
      for (Call* c : live) c->ctx.TryCancel();  // under mu_: the call cannot be freed
    }
    absl::MutexLock lock(&mu_);
    auto drained = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return live_.empty(); };
    mu_.AwaitWithTimeout(absl::Condition(&drained), absl::Seconds(30));
  }

  std::map<std::string, int64_t> errors() {
    absl::MutexLock lock(&mu_);
    return errors_;
  }

 private:
  struct Call {
    grpc::ClientContext ctx;
    v1::DequeueRequest req;
    v1::DequeueResponse resp;
  };

  void OnDone(Call* call, const grpc::Status& status) {
    int64_t now = MonotonicNanos();
    bool again;
    {
      absl::MutexLock lock(&mu_);
      live_.erase(call);
      if (status.ok() && call->resp.messages_size() > 0) {
        ++woken_;
        last_wake_nanos_ = now;
      } else if (!status.ok() && running_) {
        ++errors_[absl::StatusCodeToString(ToAbsl(status).code())];
      }
      again = running_;
    }
    delete call;
    if (again) ParkOne();
  }

  const LongPollOptions options_;
  const std::string queue_;
  std::vector<std::unique_ptr<v1::QueueService::Stub>> stubs_;
  absl::Mutex mu_;
  absl::flat_hash_set<Call*> live_ ABSL_GUARDED_BY(mu_);
  int next_stub_ ABSL_GUARDED_BY(mu_) = 0;
  bool running_ ABSL_GUARDED_BY(mu_) = true;
  int64_t woken_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t last_wake_nanos_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, int64_t> errors_ ABSL_GUARDED_BY(mu_);
};

absl::Status CreateQueue(v1::QueueService::Stub& stub, const std::string& queue) {
  v1::CreateQueueRequest req;
  req.set_name(queue);
  v1::Queue resp;
  grpc::ClientContext ctx;
  ctx.set_wait_for_ready(true);
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + kCallSlack));
  return ToAbsl(stub.CreateQueue(&ctx, req, &resp));
}

void DeleteQueue(v1::QueueService::Stub& stub, const std::string& queue) {
  v1::DeleteQueueRequest req;
  req.set_name(queue);
  req.set_force(true);
  v1::DeleteQueueResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + kCallSlack));
  stub.DeleteQueue(&ctx, req, &resp);  // best effort: the figures are taken
}

// Waits until the daemon's threads and memory stop changing (every parked call has
// reached the server and parked), or a fixed time when there is no pid to watch.
void Settle(const LongPollOptions& o, Progress& progress) {
  absl::Duration floor = absl::Seconds(2) + absl::Milliseconds(o.parked / 4);
  absl::Time start = absl::Now();
  if (o.daemon_pid <= 0) {
    absl::SleepFor(floor);
    return;
  }
  ProcessStats last;
  int steady = 0;
  while (absl::Now() - start < absl::Seconds(60)) {
    absl::SleepFor(absl::Milliseconds(250));
    absl::StatusOr<ProcessStats> now = ReadProcessStats(o.daemon_pid);
    if (!now.ok()) return;
    bool same = now->threads == last.threads &&
                std::abs(now->rss_bytes - last.rss_bytes) < last.rss_bytes / 200;
    steady = same ? steady + 1 : 0;
    last = *now;
    progress.Show(absl::StrFormat("parking %d calls: daemon %d threads, %.1f MiB", o.parked,
                                  now->threads, now->rss_bytes / 1048576.0));
    if (steady >= 4 && absl::Now() - start >= floor) return;
  }
}

// One enqueue and the wake it causes; returns the wake latency in ns, or -1.
int64_t WakeOnce(v1::QueueService::Stub& stub, Parker& parker, const std::string& queue,
                 PayloadMaker& maker, RunResult& result, bool measured) {
  int64_t seen = parker.woken();
  v1::EnqueueRequest req;
  req.set_queue(queue);
  int64_t t0 = MonotonicNanos();
  req.add_messages()->set_payload_json(maker.Make(t0));
  v1::EnqueueResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + kCallSlack));
  absl::Status status = ToAbsl(stub.Enqueue(&ctx, req, &resp));
  int64_t t1 = MonotonicNanos();
  if (!status.ok()) {
    if (measured) result.CountError(status);
    return -1;
  }
  int64_t woke = parker.AwaitWake(seen);
  if (!measured) return woke < 0 ? -1 : woke - t0;
  result.calls["enqueue"].Record(t1 - t0);
  if (woke < 0) {
    ++result.errors["WAKE_TIMEOUT"];
    return -1;
  }
  result.latency.Record(woke - t0);
  return woke - t0;
}

nlohmann::json Observe(pid_t pid) {
  if (pid <= 0) return nullptr;
  absl::StatusOr<ProcessStats> stats = ReadProcessStats(pid);
  if (!stats.ok()) return {{"error", std::string(stats.status().message())}};
  return ToJson(*stats);
}

}  // namespace

absl::StatusOr<RunResult> RunLongPoll(const LongPollOptions& o, const WorkloadOptions& workload) {
  RunResult result;
  result.target = "pgqrs";
  result.options = workload;
  result.latency_name = "wake";
  std::string queue =
      absl::StrCat("bench-longpoll-", getpid(), "-", absl::ToUnixMillis(absl::Now()));
  auto stub = v1::QueueService::NewStub(NewChannel(o.server, o.identity, 0));
  PGQRS_RETURN_IF_ERROR(CreateQueue(*stub, queue));
  Progress progress(workload.progress);
  nlohmann::json idle = Observe(o.daemon_pid);

  Parker parker(o, queue);
  for (int i = 0; i < o.parked; ++i) parker.ParkOne();
  Settle(o, progress);
  nlohmann::json parked = Observe(o.daemon_pid);

  PayloadMaker maker(workload.payload_bytes, workload.seed);
  for (int i = 0; i < kWarmupWakes; ++i) WakeOnce(*stub, parker, queue, maker, result, false);
  double cpu_before = ProcessCpuSeconds();
  int64_t start = MonotonicNanos();
  for (int i = 0; i < o.wakes; ++i) {
    if (WakeOnce(*stub, parker, queue, maker, result, true) >= 0) ++result.messages;
    progress.Show(absl::StrFormat("wake %d / %d", i + 1, o.wakes));
    absl::SleepFor(kPause);
  }
  result.elapsed = absl::Nanoseconds(MonotonicNanos() - start);
  result.client_cpu_seconds = ProcessCpuSeconds() - cpu_before;
  nlohmann::json after = Observe(o.daemon_pid);
  parker.Stop();
  for (const auto& [code, n] : parker.errors()) result.errors[code] += n;
  DeleteQueue(*stub, queue);

  result.extra["parked"] = o.parked;
  result.extra["daemon_idle"] = idle;
  result.extra["daemon_parked"] = parked;
  result.extra["daemon_after_wakes"] = after;
  if (parked.is_object() && parked.contains("threads")) {
    result.extra["within_targets"] =
        parked["threads"].get<int>() <= 64 && parked["rss_mib"].get<double>() <= 300.0;
  }
  return result;
}

}  // namespace pgqrs::bench
