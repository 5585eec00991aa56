// WaiterRegistry parks long-poll calls (Dequeue with wait_ms) without a thread each and
// wakes them when their queue may have new visible messages, when their deadline passes,
// or when they are cancelled.
//
// Lost wake-ups are prevented with versions: a caller reads Version(key) before it looks
// for messages, and Park(key, version, ...) wakes it at once if a Notify came in between.
// Versions live in a fixed table indexed by a hash of the key, and a key is held only
// while it has parked waiters, so memory does not grow with the keys ever notified (made-up
// run ids included). A Notify of another key sharing the slot wakes a waiter early; it
// then just tries again.
//
// Every parked waiter's `wake` callback runs exactly once, on the registry's timer thread
// or on the thread that called Notify/Cancel/Shutdown, never under the registry's lock.
// It must not block: it hands work to the executor.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace pgqrs::server {

enum class WakeReason { kNotified, kDeadline, kCancelled, kShutdown };

class WaiterRegistry {
 public:
  using Wake = std::function<void(WakeReason)>;
  using Ticket = uint64_t;

  WaiterRegistry();
  WaiterRegistry(const WaiterRegistry&) = delete;
  WaiterRegistry& operator=(const WaiterRegistry&) = delete;
  // Wakes every waiter with kShutdown and stops the timer thread.
  ~WaiterRegistry();

  // Changes whenever `key` is notified (and sometimes when another key is).
  uint64_t Version(const std::string& key);

  // Parks a waiter on `key` until a Notify, `deadline`, Cancel or Shutdown. If `key` was
  // notified after `seen_version` was read, wakes it at once (kNotified).
  Ticket Park(const std::string& key, uint64_t seen_version, absl::Time deadline, Wake wake);

  // Wakes the waiter with kCancelled if it is still parked.
  void Cancel(Ticket ticket);

  // Wakes up to `count` waiters on `key`, oldest first (kNotified).
  void Notify(const std::string& key, int64_t count);
  void NotifyAll(const std::string& key) { Notify(key, INT64_MAX); }

  // Wakes every waiter with kShutdown; later Parks wake at once with kShutdown.
  void Shutdown();

  // Keys that have parked waiters now.
  std::vector<std::string> KeysWithWaiters();
  size_t parked();
  // Keys held now; only keys with parked waiters are held.
  size_t key_count();

 private:
  struct Waiter {
    Ticket ticket;
    std::string key;
    absl::Time deadline;
    Wake wake;
  };
  static constexpr size_t kVersionSlots = 4096;

  uint64_t& VersionSlot(const std::string& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Removes the waiter and returns its callback. REQUIRES: it is parked.
  Wake TakeLocked(Ticket ticket) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void TimerLoop();

  absl::Mutex mu_;
  Ticket next_ticket_ ABSL_GUARDED_BY(mu_) = 1;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  std::array<uint64_t, kVersionSlots> versions_ ABSL_GUARDED_BY(mu_) = {};
  // Parked tickets per key, oldest first; never empty.
  absl::flat_hash_map<std::string, std::list<Ticket>> keys_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<Ticket, Waiter> waiters_ ABSL_GUARDED_BY(mu_);
  std::multimap<absl::Time, Ticket> deadlines_ ABSL_GUARDED_BY(mu_);
  std::thread timer_;
};

}  // namespace pgqrs::server
