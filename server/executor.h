// Executor runs blocking work (storage calls) on a fixed set of threads, so gRPC's
// threads never block. Its queue is bounded: when it is full, Submit refuses the task and
// the caller answers RESOURCE_EXHAUSTED instead of queueing without limit.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace pgqrs::server {

class Executor {
 public:
  // Starts `threads` workers. REQUIRES: threads > 0, queue_limit > 0.
  Executor(int threads, int queue_limit);
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;
  // Runs every task already accepted, then joins the threads.
  ~Executor();

  // Queues `task`. Returns false, without running it, when the queue is full or the
  // executor is shutting down.
  [[nodiscard]] bool Submit(std::function<void()> task);

  int threads() const { return static_cast<int>(threads_.size()); }
  // Tasks accepted and not yet started.
  size_t queued();

 private:
  void Loop();

  const size_t queue_limit_;
  absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace pgqrs::server
