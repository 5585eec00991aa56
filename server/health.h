// Keeps the standard grpc.health.v1 service in step with the daemon: SERVING while a
// cheap store query succeeds, NOT_SERVING while it fails (the store is unreachable), and
// NOT_SERVING for good once draining starts at shutdown, so load balancers stop sending
// new calls before the listener closes.
//
// Thread safety: all methods may be called from any thread; the probe runs on the
// monitor's own thread.
#pragma once

#include <grpcpp/health_check_service_interface.h>

#include <functional>
#include <optional>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace pgqrs::server {

class HealthMonitor {
 public:
  // Probes now and then every `interval`. `health` must outlive the monitor.
  HealthMonitor(grpc::HealthCheckServiceInterface& health, std::function<absl::Status()> probe,
                absl::Duration interval);
  HealthMonitor(const HealthMonitor&) = delete;
  HealthMonitor& operator=(const HealthMonitor&) = delete;
  ~HealthMonitor();

  // NOT_SERVING from now on; stops probing.
  void Drain();

 private:
  void Loop();
  // Probes once and publishes the result unless draining.
  void Check();

  grpc::HealthCheckServiceInterface& health_;
  const std::function<absl::Status()> probe_;
  const absl::Duration interval_;
  absl::Mutex mu_;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<bool> serving_ ABSL_GUARDED_BY(mu_);  // unset until the first probe
  std::thread thread_;
};

}  // namespace pgqrs::server
