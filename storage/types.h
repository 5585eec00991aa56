// Plain value types exchanged between the server and every Store adapter.
//
// Times are absolute (absl::Time) and come from the storage's clock: the daemon's for the
// file adapters, the database's now() for PostgreSQL. Durations are absl::Duration.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace pgqrs::storage {

// ---- Queues ----------------------------------------------------------------------------

struct QueueOptions {
  std::string name;
  int32_t max_read_count = 5;
  absl::Duration visibility_timeout = absl::Seconds(30);
  // When true, creating an existing queue returns it instead of ALREADY_EXISTS.
  bool if_not_exists = false;
};

struct QueueInfo {
  int64_t id = 0;
  std::string name;
  int32_t max_read_count = 0;
  absl::Duration visibility_timeout;
  absl::Time created_at;
};

// Message counts by state at one instant. A message whose final lease expired at
// max_read_count counts as dead even before the reaper has recorded it so.
struct QueueCounts {
  int64_t pending = 0;    // visible now
  int64_t delayed = 0;    // not yet visible, not leased
  int64_t in_flight = 0;  // leased, lease not expired
  int64_t dead = 0;
  int64_t archived = 0;
  // Age of the oldest visible message; zero when nothing is pending.
  absl::Duration oldest_pending_age;
};

// ---- Messages --------------------------------------------------------------------------

struct NewMessage {
  std::string payload_json;  // REQUIRES: valid JSON (the server validates it)
  absl::Duration delay;      // REQUIRES: >= 0
  int32_t priority = 0;      // higher is dequeued first
  std::string dedup_key;     // empty means no deduplication
};

enum class MessageState { kPending, kDelayed, kInFlight, kDead, kArchived };

// A lease is what a receipt names: one message and the random token of one lease on it.
// A lease is valid while the message still carries that token and its visibility
// timeout has not passed.
struct Lease {
  int64_t message_id = 0;
  int64_t token = 0;
};

struct Message {
  int64_t id = 0;
  std::string queue;
  std::string payload_json;
  absl::Time enqueued_at;
  absl::Time visible_at;
  int32_t read_count = 0;
  int32_t priority = 0;
  MessageState state = MessageState::kPending;
  // Set only on messages returned by Dequeue.
  std::optional<Lease> lease;
};

struct DequeueOptions {
  int32_t max_messages = 1;
  // Unset means the queue's visibility timeout.
  std::optional<absl::Duration> visibility_timeout;
  // 0 means an anonymous consumer.
  int64_t consumer_worker_id = 0;
};

// The outcome of one receipt in Ack, Delete, Nack and ExtendVisibility.
enum class LeaseOutcome {
  kOk,
  kLeaseLost,  // the lease expired or another lease replaced it; nothing changed
  kNotFound,   // no such message in this queue
};

// ---- Workers ---------------------------------------------------------------------------

enum class WorkerRole { kProducer, kConsumer, kAdmin };
enum class WorkerStatus { kReady, kPolling, kSuspended, kInterrupted, kStopped };

// The moves an operator can ask of a worker. The state machine:
//   suspend:   ready | polling | interrupted -> suspended
//   resume:    suspended -> ready
//   interrupt: ready | polling -> interrupted
// Anything else is FAILED_PRECONDITION. Shutdown has its own call.
enum class WorkerMove { kSuspend, kResume, kInterrupt };

struct WorkerRegistration {
  std::string name;
  std::string queue;  // empty for admin workers
  WorkerRole role = WorkerRole::kConsumer;
  std::string hostname;
  std::map<std::string, std::string> labels;
};

struct WorkerInfo {
  int64_t id = 0;
  std::string name;
  std::string queue;
  WorkerRole role = WorkerRole::kConsumer;
  WorkerStatus status = WorkerStatus::kReady;
  std::string hostname;
  std::map<std::string, std::string> labels;
  absl::Time started_at;
  absl::Time heartbeat_at;
  std::optional<absl::Time> shutdown_at;
  int64_t leased_messages = 0;
};

struct WorkerFilter {
  std::string queue;                   // empty: every queue
  std::optional<WorkerStatus> status;  // unset: every status
};

// ---- Maintenance -----------------------------------------------------------------------

struct ReclaimReport {
  int64_t workers_stopped = 0;
  int64_t messages_released = 0;
  // Queues that gained visible messages, so parked consumers can be woken.
  std::vector<std::string> queues_with_released;
};

struct ReapReport {
  int64_t leases_expired = 0;
  int64_t dead_lettered = 0;
  int64_t archived_deleted = 0;
};

struct MigrationReport {
  int32_t schema_version = 0;
  std::vector<int32_t> applied;
};

struct VerifyReport {
  int32_t schema_version = 0;
  std::vector<std::string> problems;  // empty when everything checks out
};

struct SystemCounts {
  int64_t queues = 0;
  int64_t workers = 0;
  int64_t workers_live = 0;  // not stopped
  QueueCounts messages;
};

}  // namespace pgqrs::storage
