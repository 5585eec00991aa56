#include "server/waiters.h"

#include <algorithm>
#include <optional>

#include "absl/hash/hash.h"

namespace pgqrs::server {

WaiterRegistry::WaiterRegistry() : timer_([this] { TimerLoop(); }) {}

WaiterRegistry::~WaiterRegistry() {
  Shutdown();
  timer_.join();
}

uint64_t& WaiterRegistry::VersionSlot(const std::string& key) {
  return versions_[absl::Hash<std::string>{}(key) % kVersionSlots];
}

uint64_t WaiterRegistry::Version(const std::string& key) {
  absl::MutexLock lock(&mu_);
  return VersionSlot(key);
}

WaiterRegistry::Ticket WaiterRegistry::Park(const std::string& key, uint64_t seen_version,
                                            absl::Time deadline, Wake wake) {
  Ticket ticket;
  std::optional<WakeReason> now;
  {
    absl::MutexLock lock(&mu_);
    ticket = next_ticket_++;
    if (shutdown_) {
      now = WakeReason::kShutdown;
    } else if (VersionSlot(key) != seen_version) {
      now = WakeReason::kNotified;
    } else {
      keys_[key].push_back(ticket);
      waiters_.emplace(ticket, Waiter{ticket, key, deadline, std::move(wake)});
      deadlines_.emplace(deadline, ticket);
      return ticket;
    }
  }
  wake(*now);
  return ticket;
}

WaiterRegistry::Wake WaiterRegistry::TakeLocked(Ticket ticket) {
  auto it = waiters_.find(ticket);
  Waiter& w = it->second;
  auto range = deadlines_.equal_range(w.deadline);
  for (auto d = range.first; d != range.second; ++d) {
    if (d->second == ticket) {
      deadlines_.erase(d);
      break;
    }
  }
  auto key = keys_.find(w.key);
  key->second.remove(ticket);
  if (key->second.empty()) keys_.erase(key);
  Wake wake = std::move(w.wake);
  waiters_.erase(it);
  return wake;
}

void WaiterRegistry::Cancel(Ticket ticket) {
  Wake wake;
  {
    absl::MutexLock lock(&mu_);
    if (!waiters_.contains(ticket)) return;
    wake = TakeLocked(ticket);
  }
  wake(WakeReason::kCancelled);
}

void WaiterRegistry::Notify(const std::string& key, int64_t count) {
  std::vector<Wake> woken;
  {
    absl::MutexLock lock(&mu_);
    ++VersionSlot(key);
    // TakeLocked erases the key with its last waiter, so look it up each time.
    for (auto it = keys_.find(key); count-- > 0 && it != keys_.end(); it = keys_.find(key)) {
      woken.push_back(TakeLocked(it->second.front()));
    }
  }
  for (Wake& wake : woken) wake(WakeReason::kNotified);
}

void WaiterRegistry::Shutdown() {
  std::vector<Wake> woken;
  {
    absl::MutexLock lock(&mu_);
    shutdown_ = true;
    while (!waiters_.empty()) woken.push_back(TakeLocked(waiters_.begin()->first));
  }
  for (Wake& wake : woken) wake(WakeReason::kShutdown);
}

std::vector<std::string> WaiterRegistry::KeysWithWaiters() {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> keys;
  for (const auto& [key, tickets] : keys_) keys.push_back(key);
  return keys;
}

size_t WaiterRegistry::parked() {
  absl::MutexLock lock(&mu_);
  return waiters_.size();
}

size_t WaiterRegistry::key_count() {
  absl::MutexLock lock(&mu_);
  return keys_.size();
}

void WaiterRegistry::TimerLoop() {
  absl::MutexLock lock(&mu_);
  while (!shutdown_) {
    absl::Time next = deadlines_.empty() ? absl::InfiniteFuture() : deadlines_.begin()->first;
    if (next > absl::Now()) {
      // Wakes early on any change; new earlier deadlines are then picked up.
      mu_.AwaitWithDeadline(absl::Condition(
                                +[](WaiterRegistry* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) {
                                  return r->shutdown_ ||
                                         (!r->deadlines_.empty() &&
                                          r->deadlines_.begin()->first <= absl::Now());
                                },
                                this),
                            std::min(next, absl::Now() + absl::Milliseconds(100)));
      continue;
    }
    std::vector<Wake> expired;
    while (!deadlines_.empty() && deadlines_.begin()->first <= absl::Now()) {
      expired.push_back(TakeLocked(deadlines_.begin()->second));
    }
    mu_.Unlock();
    for (Wake& wake : expired) wake(WakeReason::kDeadline);
    mu_.Lock();
  }
}

}  // namespace pgqrs::server
