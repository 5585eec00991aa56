#include "server/metrics.h"

#include <prometheus/collectable.h>
#include <prometheus/gauge.h>
#include <spdlog/spdlog.h>

#include <limits>
#include <map>

#include "absl/strings/str_cat.h"
#include "proto/pgqrs/v1/queue.pb.h"
#include "storage/rules.h"

namespace pgqrs::server {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  return *buckets;
}

// Codes that only storage produces in this server.
bool IsStoreCode(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::INTERNAL ||
         code == grpc::StatusCode::ABORTED || code == grpc::StatusCode::DATA_LOSS;
}

// A histogram family of one series from a store's lock-free histogram.
prometheus::MetricFamily HistogramFamily(const std::string& name, const std::string& help,
                                         const engine::HistogramSnapshot& snapshot) {
  prometheus::ClientMetric metric;
  uint64_t cumulative = 0;
  for (size_t i = 0; i < snapshot.upper_bounds.size(); ++i) {
    cumulative += snapshot.counts[i];
    metric.histogram.bucket.push_back({cumulative, snapshot.upper_bounds[i]});
  }
  cumulative += snapshot.counts.back();
  metric.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
  metric.histogram.sample_count = cumulative;
  metric.histogram.sample_sum = snapshot.sum;
  return prometheus::MetricFamily{name, help, prometheus::MetricType::Histogram, {metric}};
}

prometheus::MetricFamily CounterFamily(const std::string& name, const std::string& help,
                                       int64_t value) {
  prometheus::ClientMetric metric;
  metric.counter.value = static_cast<double>(value);
  return prometheus::MetricFamily{name, help, prometheus::MetricType::Counter, {metric}};
}

// Reads the store and the process at each scrape into a fresh registry, so series of
// deleted queues vanish with them.
class ScrapeCollector : public prometheus::Collectable {
 public:
  ScrapeCollector(MetricSources sources, Metrics& metrics) : sources_(sources), metrics_(metrics) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    prometheus::Registry registry;
    BuildGauge()
        .Name("pgqrs_executor_queue_depth")
        .Help("Calls waiting for a storage thread")
        .Register(registry)
        .Add({})
        .Set(static_cast<double>(sources_.executor.queued()));
    BuildGauge()
        .Name("pgqrs_long_polls_parked")
        .Help("Long-poll calls admitted and not yet answered")
        .Register(registry)
        .Add({})
        .Set(sources_.long_polls.parked());
    AddQueues(registry);
    AddWorkers(registry);
    AddRuns(registry);
    std::vector<prometheus::MetricFamily> families = registry.Collect();
    AddCommitStats(families);
    return families;
  }

 private:
  // The embedded stores' group commit; the store keeps the histograms, this copies them.
  void AddCommitStats(std::vector<prometheus::MetricFamily>& families) const {
    std::optional<storage::CommitStats> stats = sources_.store.GetCommitStats();
    if (!stats) return;
    families.push_back(HistogramFamily("pgqrs_store_commit_batch_size",
                                       "Write transactions per durable commit (embedded stores)",
                                       stats->batch_sizes));
    families.push_back(HistogramFamily("pgqrs_store_sync_duration_seconds",
                                       "Time of each durable commit's sync (embedded stores)",
                                       stats->sync_seconds));
    families.push_back(
        CounterFamily("pgqrs_store_conflicts_total",
                      "Write transactions that lost a write conflict (engine:// with mvcc=on)",
                      stats->write_conflicts));
    families.push_back(CounterFamily("pgqrs_store_retries_total",
                                     "Calls whose transaction was run again after a write conflict",
                                     stats->write_retried_calls));
    families.push_back(
        CounterFamily("pgqrs_store_exclusive_retries_total",
                      "Calls run in an exclusive transaction after three write conflicts",
                      stats->write_exclusive_attempts));
  }

  void AddQueues(prometheus::Registry& registry) const {
    auto& messages = BuildGauge()
                         .Name("pgqrs_queue_messages")
                         .Help("Messages per queue and state")
                         .Register(registry);
    auto& oldest = BuildGauge()
                       .Name("pgqrs_queue_oldest_pending_age_seconds")
                       .Help("Age of the oldest visible message (max over _other)")
                       .Register(registry);
    auto& queues_total = BuildGauge()
                             .Name("pgqrs_queues")
                             .Help("Queues in the store, including those summed under _other")
                             .Register(registry)
                             .Add({});
    absl::StatusOr<std::vector<storage::NamedQueueCounts>> queues =
        sources_.store.ListQueueCounts("", 100000);
    if (!queues.ok()) {
      metrics_.StoreError(queues.status().code());
      return;
    }
    queues_total.Set(static_cast<double>(queues->size()));
    std::map<std::string, storage::QueueCounts> by_label;
    for (size_t i = 0; i < queues->size(); ++i) {
      bool named = static_cast<int>(i) < sources_.max_queues;
      storage::AddQueueCounts((*queues)[i].counts, &by_label[named ? (*queues)[i].name : "_other"]);
    }
    for (const auto& [queue, c] : by_label) {
      for (auto [state, value] : {std::pair{"pending", c.pending},
                                  {"delayed", c.delayed},
                                  {"in_flight", c.in_flight},
                                  {"dead", c.dead},
                                  {"archived", c.archived}}) {
        messages.Add({{"queue", queue}, {"state", state}}).Set(static_cast<double>(value));
      }
      oldest.Add({{"queue", queue}}).Set(absl::ToDoubleSeconds(c.oldest_pending_age));
    }
  }

  void AddWorkers(prometheus::Registry& registry) const {
    auto& workers =
        BuildGauge().Name("pgqrs_workers").Help("Registered workers by status").Register(registry);
    std::map<std::string, int64_t> by_status;
    for (storage::WorkerStatus s :
         {storage::WorkerStatus::kReady, storage::WorkerStatus::kPolling,
          storage::WorkerStatus::kSuspended, storage::WorkerStatus::kInterrupted,
          storage::WorkerStatus::kStopped}) {
      by_status[storage::WorkerStatusName(s)] = 0;
    }
    storage::WorkerFilter page;
    page.limit = 1000;
    while (true) {
      absl::StatusOr<std::vector<storage::WorkerInfo>> got = sources_.store.ListWorkers(page);
      if (!got.ok()) {
        metrics_.StoreError(got.status().code());
        return;
      }
      for (const storage::WorkerInfo& w : *got) ++by_status[storage::WorkerStatusName(w.status)];
      if (static_cast<int32_t>(got->size()) < page.limit) break;
      page.after_id = got->back().id;
    }
    for (const auto& [status, n] : by_status) {
      workers.Add({{"status", status}}).Set(static_cast<double>(n));
    }
  }

  // Runs that are not finished, by status; each count stops at kRunCountCap.
  void AddRuns(prometheus::Registry& registry) const {
    constexpr int32_t kRunCountCap = 10000;
    auto& runs = BuildGauge()
                     .Name("pgqrs_workflow_runs")
                     .Help("Unfinished workflow runs by status (each capped at 10000)")
                     .Register(registry);
    for (storage::RunStatus s : {storage::RunStatus::kQueued, storage::RunStatus::kRunning,
                                 storage::RunStatus::kPaused, storage::RunStatus::kCancelling}) {
      storage::RunFilter filter;
      filter.status = s;
      filter.limit = kRunCountCap;
      absl::StatusOr<std::vector<storage::RunInfo>> found = sources_.store.ListRuns(filter);
      if (!found.ok()) {
        metrics_.StoreError(found.status().code());
        return;
      }
      runs.Add({{"status", storage::RunStatusName(s)}}).Set(static_cast<double>(found->size()));
    }
  }

  const MetricSources sources_;
  Metrics& metrics_;
};

class RpcInterceptor : public grpc::experimental::Interceptor {
 public:
  RpcInterceptor(Metrics& metrics, std::string method)
      : metrics_(metrics), method_(std::move(method)), start_(absl::Now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_MESSAGE) &&
        method_ == kRedrive) {
      const auto* response = static_cast<const v1::RedriveResponse*>(methods->GetSendMessage());
      if (response != nullptr) metrics_.Redriven(response->redriven_count());
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      metrics_.RpcDone(method_, methods->GetSendStatus().error_code(), absl::Now() - start_);
    }
    methods->Proceed();
  }

 private:
  static constexpr char kRedrive[] = "/pgqrs.v1.QueueService/Redrive";
  Metrics& metrics_;
  const std::string method_;
  const absl::Time start_;
};

class RpcInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcInterceptorFactory(Metrics& metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RpcInterceptor(metrics_, info->method());
  }

 private:
  Metrics& metrics_;
};

}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      rpcs_(BuildCounter()
                .Name("pgqrs_rpcs_total")
                .Help("RPCs answered, by method and status code")
                .Register(*registry_)),
      rpc_seconds_(BuildHistogram()
                       .Name("pgqrs_rpc_duration_seconds")
                       .Help("RPC latency from arrival to status, by method")
                       .Register(*registry_)),
      reaper_runs_(BuildCounter()
                       .Name("pgqrs_reaper_runs_total")
                       .Help("Reaper passes by reaper and result")
                       .Register(*registry_)),
      reaper_seconds_(BuildHistogram()
                          .Name("pgqrs_reaper_duration_seconds")
                          .Help("Reaper pass duration")
                          .Register(*registry_)),
      leases_expired_(BuildCounter()
                          .Name("pgqrs_leases_expired_total")
                          .Help("Leases that ended unacknowledged (the visibility reaper)")
                          .Register(*registry_)
                          .Add({})),
      dead_lettered_(BuildCounter()
                         .Name("pgqrs_dead_letter_moves_total")
                         .Help("Messages moved to the dead letters by the visibility reaper")
                         .Register(*registry_)
                         .Add({})),
      workers_reclaimed_(BuildCounter()
                             .Name("pgqrs_workers_reclaimed_total")
                             .Help("Silent workers stopped by the heartbeat reaper")
                             .Register(*registry_)
                             .Add({})),
      redriven_(BuildCounter()
                    .Name("pgqrs_redriven_messages_total")
                    .Help("Dead letters returned to pending by Redrive")
                    .Register(*registry_)
                    .Add({})),
      store_errors_(BuildCounter()
                        .Name("pgqrs_store_errors_total")
                        .Help("Storage failures by status code")
                        .Register(*registry_)) {}

Metrics::~Metrics() = default;

absl::StatusOr<int> Metrics::Serve(const std::string& listen, const MetricSources& sources) {
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(listen, /*num_threads=*/1);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("--metrics_listen=", listen, ": ", e.what()));
  }
  scrape_collector_ = std::make_shared<ScrapeCollector>(sources, *this);
  exposer_->RegisterCollectable(registry_);
  exposer_->RegisterCollectable(scrape_collector_);
  return exposer_->GetListeningPorts().at(0);
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> Metrics::RpcRecorder() {
  return std::make_unique<RpcInterceptorFactory>(*this);
}

void Metrics::RpcDone(const std::string& method, grpc::StatusCode code, absl::Duration took) {
  std::string code_name = absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  rpcs_.Add({{"method", method}, {"code", code_name}}).Increment();
  rpc_seconds_.Add({{"method", method}}, LatencyBuckets()).Observe(absl::ToDoubleSeconds(took));
  if (IsStoreCode(code)) StoreError(static_cast<absl::StatusCode>(code));
}

void Metrics::ReaperPass(const std::string& reaper, absl::Duration took,
                         const absl::Status& status) {
  reaper_runs_.Add({{"reaper", reaper}, {"result", status.ok() ? "ok" : "error"}}).Increment();
  reaper_seconds_.Add({{"reaper", reaper}}, LatencyBuckets()).Observe(absl::ToDoubleSeconds(took));
  if (!status.ok()) StoreError(status.code());
}

void Metrics::LeasesReaped(int64_t expired, int64_t dead_lettered) {
  leases_expired_.Increment(static_cast<double>(expired));
  dead_lettered_.Increment(static_cast<double>(dead_lettered));
}

void Metrics::WorkersReclaimed(int64_t workers) {
  workers_reclaimed_.Increment(static_cast<double>(workers));
}

void Metrics::Redriven(int64_t messages) { redriven_.Increment(static_cast<double>(messages)); }

void Metrics::StoreError(absl::StatusCode code) {
  store_errors_.Add({{"code", absl::StatusCodeToString(code)}}).Increment();
}

}  // namespace pgqrs::server
