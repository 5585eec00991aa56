#include "server/convert.h"

#include "absl/strings/str_cat.h"
#include "server/receipt.h"

namespace pgqrs::server {

void SetTimestamp(absl::Time time, google::protobuf::Timestamp* out) {
  int64_t micros = absl::ToUnixMicros(time);
  int64_t seconds = micros >= 0 ? micros / 1000000 : (micros - 999999) / 1000000;
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>((micros - seconds * 1000000) * 1000));
}

void ToProto(const storage::QueueInfo& queue, v1::Queue* out) {
  out->set_name(queue.name);
  out->set_max_read_count(queue.max_read_count);
  out->set_visibility_timeout_ms(absl::ToInt64Milliseconds(queue.visibility_timeout));
  SetTimestamp(queue.created_at, out->mutable_created_at());
}

void ToProto(const storage::QueueCounts& counts, v1::QueueStats* out) {
  out->set_pending(counts.pending);
  out->set_delayed(counts.delayed);
  out->set_in_flight(counts.in_flight);
  out->set_dead(counts.dead);
  out->set_archived(counts.archived);
  out->set_oldest_pending_age_ms(absl::ToInt64Milliseconds(counts.oldest_pending_age));
}

namespace {

v1::MessageState ToProto(storage::MessageState state) {
  switch (state) {
    case storage::MessageState::kPending:
      return v1::MESSAGE_STATE_PENDING;
    case storage::MessageState::kDelayed:
      return v1::MESSAGE_STATE_DELAYED;
    case storage::MessageState::kInFlight:
      return v1::MESSAGE_STATE_IN_FLIGHT;
    case storage::MessageState::kDead:
      return v1::MESSAGE_STATE_DEAD;
    case storage::MessageState::kArchived:
      return v1::MESSAGE_STATE_ARCHIVED;
  }
  return v1::MESSAGE_STATE_UNSPECIFIED;
}

v1::WorkerRole ToProto(storage::WorkerRole role) {
  switch (role) {
    case storage::WorkerRole::kProducer:
      return v1::WORKER_ROLE_PRODUCER;
    case storage::WorkerRole::kConsumer:
      return v1::WORKER_ROLE_CONSUMER;
    case storage::WorkerRole::kAdmin:
      return v1::WORKER_ROLE_ADMIN;
  }
  return v1::WORKER_ROLE_UNSPECIFIED;
}

}  // namespace

void ToProto(const storage::Message& message, v1::Message* out) {
  out->set_id(message.id);
  out->set_queue(message.queue);
  out->set_payload_json(message.payload_json);
  SetTimestamp(message.enqueued_at, out->mutable_enqueued_at());
  SetTimestamp(message.visible_at, out->mutable_visible_at());
  out->set_read_count(message.read_count);
  out->set_priority(message.priority);
  out->set_state(ToProto(message.state));
  if (message.lease) out->set_receipt(EncodeReceipt(*message.lease));
}

v1::WorkerStatus ToProto(storage::WorkerStatus status) {
  switch (status) {
    case storage::WorkerStatus::kReady:
      return v1::WORKER_STATUS_READY;
    case storage::WorkerStatus::kPolling:
      return v1::WORKER_STATUS_POLLING;
    case storage::WorkerStatus::kSuspended:
      return v1::WORKER_STATUS_SUSPENDED;
    case storage::WorkerStatus::kInterrupted:
      return v1::WORKER_STATUS_INTERRUPTED;
    case storage::WorkerStatus::kStopped:
      return v1::WORKER_STATUS_STOPPED;
  }
  return v1::WORKER_STATUS_UNSPECIFIED;
}

void ToProto(const storage::WorkerInfo& worker, v1::Worker* out) {
  out->set_id(worker.id);
  out->set_name(worker.name);
  out->set_queue(worker.queue);
  out->set_role(ToProto(worker.role));
  out->set_status(ToProto(worker.status));
  out->set_hostname(worker.hostname);
  for (const auto& [k, v] : worker.labels) (*out->mutable_labels())[k] = v;
  SetTimestamp(worker.started_at, out->mutable_started_at());
  SetTimestamp(worker.heartbeat_at, out->mutable_heartbeat_at());
  if (worker.shutdown_at) SetTimestamp(*worker.shutdown_at, out->mutable_shutdown_at());
  out->set_leased_messages(worker.leased_messages);
}

void ToProto(const storage::WorkflowInfo& workflow, v1::Workflow* out) {
  out->set_name(workflow.name);
  v1::RetryPolicy* policy = out->mutable_retry_policy();
  policy->set_max_attempts(workflow.retry_policy.max_attempts);
  policy->set_base_backoff_ms(absl::ToInt64Milliseconds(workflow.retry_policy.base_backoff));
  policy->set_max_backoff_ms(absl::ToInt64Milliseconds(workflow.retry_policy.max_backoff));
  policy->set_jitter(workflow.retry_policy.jitter);
  SetTimestamp(workflow.created_at, out->mutable_created_at());
}

// storage::RunStatus and StepStatus carry the proto's numbers.
void ToProto(const storage::RunInfo& run, v1::Run* out) {
  out->set_id(run.id);
  out->set_workflow(run.workflow);
  out->set_status(static_cast<v1::RunStatus>(run.status));
  out->set_input_json(run.input_json);
  out->set_output_json(run.output_json);
  out->set_error_json(run.error_json);
  out->set_idempotency_key(run.idempotency_key);
  out->set_worker_id(run.worker_id);
  SetTimestamp(run.created_at, out->mutable_created_at());
  SetTimestamp(run.updated_at, out->mutable_updated_at());
  if (run.resume_at) SetTimestamp(*run.resume_at, out->mutable_resume_at());
}

void ToProto(const storage::StepInfo& step, v1::Step* out) {
  out->set_run_id(step.run_id);
  out->set_step_name(step.name);
  out->set_status(static_cast<v1::StepStatus>(step.status));
  out->set_output_json(step.output_json);
  out->set_error_json(step.error_json);
  out->set_attempts(step.attempts);
  if (step.retry_at) SetTimestamp(*step.retry_at, out->mutable_retry_at());
  out->set_exhausted(step.exhausted);
  SetTimestamp(step.started_at, out->mutable_started_at());
  if (step.completed_at) SetTimestamp(*step.completed_at, out->mutable_completed_at());
}

v1::ReceiptResult ToProto(storage::LeaseOutcome outcome) {
  switch (outcome) {
    case storage::LeaseOutcome::kOk:
      return v1::RECEIPT_RESULT_OK;
    case storage::LeaseOutcome::kLeaseLost:
      return v1::RECEIPT_RESULT_LEASE_LOST;
    case storage::LeaseOutcome::kNotFound:
      return v1::RECEIPT_RESULT_NOT_FOUND;
  }
  return v1::RECEIPT_RESULT_UNSPECIFIED;
}

absl::StatusOr<storage::WorkerRole> FromProto(v1::WorkerRole role) {
  switch (role) {
    case v1::WORKER_ROLE_PRODUCER:
      return storage::WorkerRole::kProducer;
    case v1::WORKER_ROLE_CONSUMER:
      return storage::WorkerRole::kConsumer;
    case v1::WORKER_ROLE_ADMIN:
      return storage::WorkerRole::kAdmin;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("role: must be PRODUCER, CONSUMER or ADMIN (got ", role, ")"));
  }
}

absl::StatusOr<storage::WorkerStatus> FromProto(v1::WorkerStatus status) {
  switch (status) {
    case v1::WORKER_STATUS_READY:
      return storage::WorkerStatus::kReady;
    case v1::WORKER_STATUS_POLLING:
      return storage::WorkerStatus::kPolling;
    case v1::WORKER_STATUS_SUSPENDED:
      return storage::WorkerStatus::kSuspended;
    case v1::WORKER_STATUS_INTERRUPTED:
      return storage::WorkerStatus::kInterrupted;
    case v1::WORKER_STATUS_STOPPED:
      return storage::WorkerStatus::kStopped;
    default:
      return absl::InvalidArgumentError(absl::StrCat("status: unknown value ", status));
  }
}

absl::StatusOr<storage::RunStatus> FromProto(v1::RunStatus status) {
  if (status >= v1::RUN_STATUS_QUEUED && status <= v1::RUN_STATUS_CANCELLED) {
    return static_cast<storage::RunStatus>(status);
  }
  return absl::InvalidArgumentError(absl::StrCat("status: unknown run status ", status));
}

}  // namespace pgqrs::server
