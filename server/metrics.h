// Prometheus metrics (text format on --metrics_listen, prometheus-cpp):
//   - every RPC by method and status code, with a latency histogram (an interceptor);
//   - reaper passes and their durations, leases expired, dead-letter moves, workers
//     reclaimed, messages redriven (counters fed by the reapers and the Redrive RPC);
//   - at scrape time, from the store: per-queue message counts and oldest pending age
//     (the first --metrics_max_queues queues by name; the rest summed under
//     queue="_other"), workers by status, live workflow runs by status; and from the
//     process: executor queue depth, parked long-polls; and the embedded stores' group
//     commit (transactions per durable commit, sync durations), copied from the store's
//     own histograms (Store::GetCommitStats) so storage and the engine need no metrics
//     library;
//   - store errors by code: failed scrape queries and reaper passes, and RPCs that
//     failed with a storage code (UNAVAILABLE, INTERNAL, ABORTED, DATA_LOSS).
// README's "Metrics" section lists every series.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <grpcpp/support/server_interceptor.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/executor.h"
#include "server/limits.h"
#include "storage/store.h"

namespace pgqrs::server {

// What the scrape-time collector reads; all must outlive Metrics.
struct MetricSources {
  storage::Store& store;
  Executor& executor;
  LongPollLimiter& long_polls;
  int max_queues;
};

class Metrics {
 public:
  Metrics();
  ~Metrics();

  // Serves /metrics on `listen` (HOST:PORT; port 0 picks one) from now on. Returns the
  // bound port.
  absl::StatusOr<int> Serve(const std::string& listen, const MetricSources& sources);

  // Counts every RPC's code and latency; register with the server builder.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> RpcRecorder();

  // One reaper pass ("heartbeat" or "visibility"): its duration and whether it failed.
  void ReaperPass(const std::string& reaper, absl::Duration took, const absl::Status& status);
  void LeasesReaped(int64_t expired, int64_t dead_lettered);
  void WorkersReclaimed(int64_t workers);
  void StoreError(absl::StatusCode code);

  // Used by the RPC interceptor.
  void RpcDone(const std::string& method, grpc::StatusCode code, absl::Duration took);
  void Redriven(int64_t messages);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& rpcs_;
  prometheus::Family<prometheus::Histogram>& rpc_seconds_;
  prometheus::Family<prometheus::Counter>& reaper_runs_;
  prometheus::Family<prometheus::Histogram>& reaper_seconds_;
  prometheus::Counter& leases_expired_;
  prometheus::Counter& dead_lettered_;
  prometheus::Counter& workers_reclaimed_;
  prometheus::Counter& redriven_;
  prometheus::Family<prometheus::Counter>& store_errors_;
  std::shared_ptr<prometheus::Collectable> scrape_collector_;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace pgqrs::server
