// Conversions between storage values and the v1 protobuf messages.
#pragma once

#include "absl/status/statusor.h"
#include "proto/pgqrs/v1/admin.pb.h"
#include "proto/pgqrs/v1/common.pb.h"
#include "proto/pgqrs/v1/workflow.pb.h"
#include "storage/types.h"

namespace pgqrs::server {

void SetTimestamp(absl::Time time, google::protobuf::Timestamp* out);

void ToProto(const storage::QueueInfo& queue, v1::Queue* out);
void ToProto(const storage::QueueCounts& counts, v1::QueueStats* out);
// Fills the receipt too when the message carries a lease.
void ToProto(const storage::Message& message, v1::Message* out);
void ToProto(const storage::WorkerInfo& worker, v1::Worker* out);

void ToProto(const storage::WorkflowInfo& workflow, v1::Workflow* out);
void ToProto(const storage::RunInfo& run, v1::Run* out);
void ToProto(const storage::StepInfo& step, v1::Step* out);

v1::ReceiptResult ToProto(storage::LeaseOutcome outcome);
v1::WorkerStatus ToProto(storage::WorkerStatus status);

// INVALID_ARGUMENT for UNSPECIFIED or unknown values.
absl::StatusOr<storage::WorkerRole> FromProto(v1::WorkerRole role);
absl::StatusOr<storage::WorkerStatus> FromProto(v1::WorkerStatus status);
absl::StatusOr<storage::RunStatus> FromProto(v1::RunStatus status);

}  // namespace pgqrs::server
