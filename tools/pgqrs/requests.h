// Builds RPC requests from a parsed command line and checks local input before anything
// is sent. Every error here is a usage error (exit 2) naming the offending argument.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/pgqrs/v1/common.pb.h"
#include "proto/pgqrs/v1/queue.pb.h"
#include "proto/pgqrs/v1/worker.pb.h"
#include "proto/pgqrs/v1/workflow.pb.h"
#include "tools/pgqrs/args.h"

namespace pgqrs::cli {

// Parses every payload with a real JSON parser. The error names the 1-based JSON argument
// and the request field, e.g. `JSON argument 2 (messages[1].payload_json) is malformed: ...`.
absl::Status ValidatePayloads(const std::vector<std::string>& payloads);

// `queue create NAME [--max-read-count N] [--vt-ms MS] [--if-not-exists]`.
absl::StatusOr<v1::CreateQueueRequest> BuildCreateQueueRequest(const Invocation& inv);

// `send QUEUE JSON... [--delay-ms] [--priority] [--dedup-key] [--worker-id]`. The flags
// apply to every message; --dedup-key requires exactly one JSON argument.
absl::StatusOr<v1::EnqueueRequest> BuildEnqueueRequest(const Invocation& inv);

// `recv QUEUE [--max N] [--vt-ms MS] [--wait-ms MS] [--worker-id ID]`.
absl::StatusOr<v1::DequeueRequest> BuildDequeueRequest(const Invocation& inv);

// `worker register NAME --role R [--queue Q] [--hostname H] [--label K=V]...`; the
// hostname defaults to `default_hostname`. REQUIRES: --role was given (a required flag).
absl::StatusOr<v1::RegisterWorkerRequest> BuildRegisterWorkerRequest(
    const Invocation& inv, const std::string& default_hostname);

// `worker list [--queue Q] [--status S]`.
absl::StatusOr<v1::ListWorkersRequest> BuildListWorkersRequest(const Invocation& inv);

// `workflow create NAME [--max-attempts N] [--base-backoff-ms MS] [--max-backoff-ms MS]
// [--jitter F] [--if-not-exists]`. A policy is sent only when one of its flags is given.
absl::StatusOr<v1::CreateWorkflowRequest> BuildCreateWorkflowRequest(const Invocation& inv);

// `run start WORKFLOW [JSON] [--idempotency-key KEY]`; the JSON is checked locally.
absl::StatusOr<v1::StartRunRequest> BuildStartRunRequest(const Invocation& inv);

// `run list [--workflow W] [--status S]`.
absl::StatusOr<v1::ListRunsRequest> BuildListRunsRequest(const Invocation& inv);

// Short names of RunStatus, e.g. "succeeded".
absl::StatusOr<v1::RunStatus> ParseRunStatus(std::string_view text);

// "producer" -> WORKER_ROLE_PRODUCER (case-insensitive; UNSPECIFIED is not accepted).
absl::StatusOr<v1::WorkerRole> ParseRole(std::string_view text);
// "in_flight"-style short names of WorkerStatus, e.g. "suspended".
absl::StatusOr<v1::WorkerStatus> ParseWorkerStatus(std::string_view text);
// "k=v" -> {"k", "v"}; the key must be non-empty, the value may contain '='.
absl::StatusOr<std::pair<std::string, std::string>> ParseLabel(std::string_view text);
// Positional ids (message or worker ids); `what` names them in errors.
absl::StatusOr<std::vector<int64_t>> ParseIds(const std::vector<std::string>& texts,
                                              std::string_view what);

}  // namespace pgqrs::cli
