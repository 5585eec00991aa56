// Target is what a benchmark drives: a queue reached over some transport (pgqrsd over
// gRPC, beanstalkd over its text protocol, an in-process storage::Store, or the empty
// gRPC call that measures the transport alone). The workloads in workload.h know only
// this interface, so every target runs exactly the same producer and consumer loops.
//
// Thread safety: Target methods may be called from any thread. A Session belongs to one
// worker thread at a time.
#pragma once

#include <cstdint>
#include <future>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace pgqrs::bench {

// One message handed out by Dequeue: its body and whatever the target needs to ack it
// (a pgqrs receipt, a beanstalk job id).
struct Leased {
  std::string payload;
  std::string handle;
};

// The answer to a call started with Session::StartEnqueue or StartAck: its status and
// when it arrived (MonotonicNanos), which is when the call ended however late the worker
// collects it.
struct Answer {
  absl::Status status;
  int64_t arrived_nanos = 0;
};

// One worker's connection. Errors carry the canonical code the target reported
// (gRPC codes map 1:1); the workloads count them by code and carry on.
class Session {
 public:
  virtual ~Session() = default;

  // Starts Enqueue (StartAck: Ack) and returns its answer to come. A target that
  // pipelines (Target::pipelines()) returns once the request is sent, so a worker can keep
  // several in flight; the default makes the call and returns it answered.
  virtual std::future<Answer> StartEnqueue(std::span<const std::string> payloads);
  virtual std::future<Answer> StartAck(std::span<const Leased> messages);

  // Stores every payload, all or nothing when the target supports batches.
  virtual absl::Status Enqueue(std::span<const std::string> payloads) = 0;
  // Leases up to `max` messages, waiting up to `wait` for the first one to arrive.
  // Returns an empty vector when none arrived in time.
  virtual absl::StatusOr<std::vector<Leased>> Dequeue(int max, absl::Duration wait) = 0;
  // Acknowledges (completes) the leased messages.
  virtual absl::Status Ack(std::span<const Leased> messages) = 0;
};

class Target {
 public:
  virtual ~Target() = default;

  // A short name for reports: "pgqrs", "beanstalk", "ping", "store".
  virtual std::string name() const = 0;
  // Whether StartEnqueue and StartAck return before the answer, so the workloads keep
  // up to WorkloadOptions::window calls in flight per worker.
  virtual bool pipelines() const { return false; }
  // Prepares a fresh, empty queue for one run.
  virtual absl::Status Setup() = 0;
  // Opens a session for one worker thread.
  virtual absl::StatusOr<std::unique_ptr<Session>> NewSession() = 0;
  // Removes what Setup created; best effort.
  virtual absl::Status Teardown() = 0;
};

}  // namespace pgqrs::bench
