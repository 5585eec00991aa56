// The knobs every workload shares, filled from command-line flags (flags.h).
#pragma once

#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace pgqrs::bench {

enum class Scenario { kEnqueue, kLifecycle, kLongPoll, kDrain };

struct WorkloadOptions {
  Scenario scenario = Scenario::kLifecycle;
  int producers = 4;
  int consumers = 4;
  int batch = 1;  // messages per Enqueue; the most a Dequeue asks for
  // Calls each worker keeps in flight on a target that pipelines (Target::pipelines()):
  // a producer sends up to this many Enqueues before it waits for the oldest answer, a
  // consumer as many Acks. Other targets answer every call before the next (1).
  int window = 1;
  int payload_bytes = 100;
  absl::Duration warmup = absl::Seconds(2);
  // The measured phase ends after `duration`, or once `messages` messages completed when
  // messages > 0 (then `duration` is only a safety limit).
  absl::Duration duration = absl::Seconds(10);
  int64_t messages = 0;
  uint64_t seed = 1;
  // How long one Dequeue waits for a message (long-poll) before it returns empty.
  absl::Duration dequeue_wait = absl::Seconds(1);
  // lifecycle: producers pause while more than this many messages are enqueued but not
  // yet acked, so the queue stays short and latency means something. 0: no limit.
  int64_t max_backlog = 0;
  // drain: messages loaded before the consumers start.
  int64_t preload = 10000;
  // lifecycle: messages enqueued before the run and left pending, so every dequeue works
  // against a queue about this deep (the consumers take these oldest ones first).
  int64_t pending = 0;
  // A process (the daemon) whose CPU time over the measured phase, threads and memory
  // are reported too; 0: none.
  int observe_pid = 0;
  // Show a progress line on stderr (only when it is a terminal).
  bool progress = true;
};

// "enqueue", "lifecycle", "longpoll", "drain".
const char* ScenarioName(Scenario scenario);
// Parses a scenario name; false when unknown.
bool ParseScenario(const std::string& name, Scenario* scenario);

// The backlog limit a lifecycle run uses when max_backlog is 0: two full batches per
// call a worker may have in flight, enough to keep every consumer busy with full batches and small
// enough that latency measures the system, not the length of a queue.
int64_t EffectiveBacklog(const WorkloadOptions& options);

}  // namespace pgqrs::bench
