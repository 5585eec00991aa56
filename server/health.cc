#include "server/health.h"

#include <spdlog/spdlog.h>

namespace pgqrs::server {

HealthMonitor::HealthMonitor(grpc::HealthCheckServiceInterface& health,
                             std::function<absl::Status()> probe, absl::Duration interval)
    : health_(health), probe_(std::move(probe)), interval_(interval) {
  Check();
  thread_ = std::thread([this] { Loop(); });
}

HealthMonitor::~HealthMonitor() {
  Drain();
  thread_.join();
}

void HealthMonitor::Drain() {
  absl::MutexLock lock(&mu_);
  draining_ = true;
  serving_ = false;
  health_.SetServingStatus(false);
}

void HealthMonitor::Loop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&draining_), interval_)) return;
    }
    Check();
  }
}

void HealthMonitor::Check() {
  absl::Status probed = probe_();
  absl::MutexLock lock(&mu_);
  if (draining_ || serving_ == probed.ok()) return;
  serving_ = probed.ok();
  health_.SetServingStatus(*serving_);
  if (*serving_) {
    spdlog::info("health: SERVING (the store answers)");
  } else {
    spdlog::warn("health: NOT_SERVING, the store does not answer: {}", probed.ToString());
  }
}

}  // namespace pgqrs::server
