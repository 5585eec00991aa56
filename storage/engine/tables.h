// Column positions of the pgqrs tables as migrations/sqlite/*.sql declares them (the engine
// keeps columns in declaration order). EngineStore checks them against the opened schema, so a
// migration that reorders columns fails loudly instead of reading the wrong values.
#pragma once

#include <span>
#include <string_view>

namespace pgqrs::storage::enginestore {

inline constexpr char kSequences[] = "pgqrs_sequences";
inline constexpr char kQueues[] = "pgqrs_queues";
inline constexpr char kWorkers[] = "pgqrs_workers";
inline constexpr char kMessages[] = "pgqrs_messages";
inline constexpr char kWorkflows[] = "pgqrs_workflows";
inline constexpr char kRuns[] = "pgqrs_workflow_runs";
inline constexpr char kSteps[] = "pgqrs_workflow_steps";
inline constexpr char kMigrations[] = "pgqrs_schema_migrations";

// Indexes the store reads through.
inline constexpr char kQueuesByName[] = "pgqrs_queues_name";
inline constexpr char kWorkersByName[] = "pgqrs_workers_name";
inline constexpr char kWorkersByQueue[] = "pgqrs_workers_queue";
inline constexpr char kWorkersByHeartbeat[] = "pgqrs_workers_heartbeat";
inline constexpr char kMessagesDequeue[] = "pgqrs_messages_dequeue";
// Positions in a pgqrs_messages_dequeue key: (queue_id, state, priority DESC, vt, id).
namespace dequeue_key {
enum : int { kQueueId, kState, kPriority, kVt, kId };
}
inline constexpr char kMessagesLeases[] = "pgqrs_messages_leases";
inline constexpr char kMessagesConsumer[] = "pgqrs_messages_consumer";
inline constexpr char kMessagesDedup[] = "pgqrs_messages_dedup";
inline constexpr char kMessagesArchived[] = "pgqrs_messages_archived";
inline constexpr char kMessagesProducer[] = "pgqrs_messages_producer";
inline constexpr char kWorkflowsByName[] = "pgqrs_workflows_name";
inline constexpr char kWorkflowsByQueue[] = "pgqrs_workflows_queue";
inline constexpr char kRunsByKey[] = "pgqrs_workflow_runs_key";
inline constexpr char kRunsByMessage[] = "pgqrs_workflow_runs_message";
inline constexpr char kStepsByRun[] = "pgqrs_workflow_steps_run";
inline constexpr char kRunsByWorker[] = "pgqrs_workflow_runs_worker";
inline constexpr char kRunsCompleted[] = "pgqrs_workflow_runs_completed";
inline constexpr char kWorkersShutdown[] = "pgqrs_workers_shutdown";

namespace seq {
enum : int { kId, kNextId, kCount };
}
namespace queue {
enum : int { kId, kName, kMaxReadCount, kVisibilityTimeoutMs, kCreatedAt, kCount };
}
namespace worker {
enum : int {
  kId,
  kName,
  kQueueId,
  kRole,
  kStatus,
  kHostname,
  kLabelsJson,
  kStartedAt,
  kHeartbeatAt,
  kShutdownAt,
  kCount
};
}
namespace msg {
enum : int {
  kId,
  kQueueId,
  kPayload,
  kPriority,
  kState,
  kVt,
  kEnqueuedAt,
  kReadCt,
  kLeaseToken,
  kDequeuedAt,
  kProducerWorkerId,
  kConsumerWorkerId,
  kDedupKey,
  kArchivedAt,
  kCount
};
}
namespace workflow {
enum : int {
  kId,
  kName,
  kQueueId,
  kMaxAttempts,
  kBaseBackoffMs,
  kMaxBackoffMs,
  kJitterPpm,
  kCreatedAt,
  kCount
};
}
namespace run {
enum : int {
  kId,
  kWorkflowId,
  kStatus,
  kInput,
  kOutput,
  kError,
  kIdempotencyKey,
  kMessageId,
  kWorkerId,
  kCreatedAt,
  kUpdatedAt,
  kStartedAt,
  kCompletedAt,
  kResumeAt,
  kCount
};
}
namespace step {
enum : int {
  kId,
  kRunId,
  kStepName,
  kStatus,
  kOutput,
  kError,
  kAttempts,
  kRetryAt,
  kExhausted,
  kLeaseToken,
  kStartedAt,
  kCompletedAt,
  kCount
};
}
namespace migration {
enum : int { kVersion, kName, kChecksum, kAppliedAt, kCount };
}

// The expected column names of one table, in order.
struct TableLayout {
  const char* table;
  std::span<const char* const> columns;
};
std::span<const TableLayout> ExpectedLayouts();

}  // namespace pgqrs::storage::enginestore
