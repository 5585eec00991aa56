#include "tools/pgqrs/requests.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "tools/pgqrs/errors.h"
#include "tools/pgqrs/output.h"

namespace pgqrs::cli {
namespace {

absl::string_view Absl(std::string_view text) { return {text.data(), text.size()}; }

// An int flag that must fit an int32 proto field.
absl::StatusOr<int32_t> Int32Flag(const Invocation& inv, std::string_view name) {
  const int64_t value = inv.GetInt(name);
  if (value < std::numeric_limits<int32_t>::min() || value > std::numeric_limits<int32_t>::max()) {
    return UsageError(absl::StrCat("--", Absl(name), " is out of range: ", value));
  }
  return static_cast<int32_t>(value);
}

// Strips nlohmann's "[json.exception.parse_error.101] " prefix.
std::string ParserMessage(const std::string& what) {
  const size_t end = what.rfind("] ", what.find(' '));
  return what.starts_with("[json.exception.") && end != std::string::npos ? what.substr(end + 2)
                                                                          : what;
}

// The parser's complaint about `text`, or nullopt when it is one valid JSON document.
std::optional<std::string> JsonSyntaxError(const std::string& text) {
  try {
    const nlohmann::json parsed = nlohmann::json::parse(text);
    return parsed.is_discarded() ? std::optional<std::string>("not a JSON document") : std::nullopt;
  } catch (const nlohmann::json::parse_error& e) {
    return ParserMessage(e.what());
  }
}

template <typename Enum>
absl::StatusOr<Enum> ParseEnum(const google::protobuf::EnumDescriptor* type, std::string_view text,
                               std::string_view what) {
  std::string wanted(text);
  std::transform(wanted.begin(), wanted.end(), wanted.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  std::string choices;
  for (int i = 1; i < type->value_count(); ++i) {  // 0 is UNSPECIFIED
    const std::string name = ShortEnumName(*type->value(i));
    if (name == wanted) {
      return static_cast<Enum>(type->value(i)->number());
    }
    absl::StrAppend(&choices, choices.empty() ? "" : ", ", name);
  }
  return UsageError(
      absl::StrCat(Absl(what), " must be one of ", choices, ", not \"", Absl(text), "\""));
}

}  // namespace

absl::Status ValidatePayloads(const std::vector<std::string>& payloads) {
  for (size_t i = 0; i < payloads.size(); ++i) {
    if (std::optional<std::string> error = JsonSyntaxError(payloads[i]); error.has_value()) {
      return UsageError(absl::StrCat("JSON argument ", i + 1, " (messages[", i,
                                     "].payload_json) is malformed: ", *error));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::CreateQueueRequest> BuildCreateQueueRequest(const Invocation& inv) {
  v1::CreateQueueRequest request;
  request.set_name(inv.args.at(0));
  PGQRS_ASSIGN_OR_RETURN(int32_t max_read_count, Int32Flag(inv, "max-read-count"));
  request.set_max_read_count(max_read_count);
  request.set_visibility_timeout_ms(inv.GetInt("vt-ms"));
  request.set_if_not_exists(inv.Has("if-not-exists"));
  return request;
}

absl::StatusOr<v1::EnqueueRequest> BuildEnqueueRequest(const Invocation& inv) {
  const std::vector<std::string> payloads(inv.args.begin() + 1, inv.args.end());
  PGQRS_RETURN_IF_ERROR(ValidatePayloads(payloads));
  if (inv.Has("dedup-key") && payloads.size() != 1) {
    return UsageError("--dedup-key needs exactly one JSON argument");
  }
  PGQRS_ASSIGN_OR_RETURN(int32_t priority, Int32Flag(inv, "priority"));
  v1::EnqueueRequest request;
  request.set_queue(inv.args.at(0));
  request.set_producer_worker_id(inv.GetInt("worker-id"));
  for (const std::string& payload : payloads) {
    v1::NewMessage* message = request.add_messages();
    message->set_payload_json(payload);
    message->set_delay_ms(inv.GetInt("delay-ms"));
    message->set_priority(priority);
    message->set_dedup_key(inv.GetString("dedup-key"));
  }
  return request;
}

absl::StatusOr<v1::DequeueRequest> BuildDequeueRequest(const Invocation& inv) {
  PGQRS_ASSIGN_OR_RETURN(int32_t max, Int32Flag(inv, "max"));
  v1::DequeueRequest request;
  request.set_queue(inv.args.at(0));
  request.set_max_messages(max);
  request.set_visibility_timeout_ms(inv.GetInt("vt-ms"));
  request.set_wait_ms(inv.GetInt("wait-ms"));
  request.set_consumer_worker_id(inv.GetInt("worker-id"));
  return request;
}

absl::StatusOr<v1::RegisterWorkerRequest> BuildRegisterWorkerRequest(
    const Invocation& inv, const std::string& default_hostname) {
  PGQRS_ASSIGN_OR_RETURN(v1::WorkerRole role, ParseRole(inv.GetString("role")));
  v1::RegisterWorkerRequest request;
  request.set_name(inv.args.at(0));
  request.set_queue(inv.GetString("queue"));
  request.set_role(role);
  request.set_hostname(inv.GetString("hostname", default_hostname));
  for (const std::string& text : inv.GetAll("label")) {
    PGQRS_ASSIGN_OR_RETURN(auto label, ParseLabel(text));
    (*request.mutable_labels())[label.first] = label.second;
  }
  return request;
}

absl::StatusOr<v1::ListWorkersRequest> BuildListWorkersRequest(const Invocation& inv) {
  v1::ListWorkersRequest request;
  request.set_queue(inv.GetString("queue"));
  if (inv.Has("status")) {
    PGQRS_ASSIGN_OR_RETURN(v1::WorkerStatus status, ParseWorkerStatus(inv.GetString("status")));
    request.set_status(status);
  }
  return request;
}

absl::StatusOr<v1::CreateWorkflowRequest> BuildCreateWorkflowRequest(const Invocation& inv) {
  v1::CreateWorkflowRequest request;
  request.set_name(inv.args.at(0));
  request.set_if_not_exists(inv.Has("if-not-exists"));
  const bool any_policy = inv.Has("max-attempts") || inv.Has("base-backoff-ms") ||
                          inv.Has("max-backoff-ms") || inv.Has("jitter");
  if (!any_policy) {
    return request;
  }
  v1::RetryPolicy* policy = request.mutable_retry_policy();
  PGQRS_ASSIGN_OR_RETURN(int32_t max_attempts, Int32Flag(inv, "max-attempts"));
  policy->set_max_attempts(max_attempts);
  policy->set_base_backoff_ms(inv.GetInt("base-backoff-ms"));
  policy->set_max_backoff_ms(inv.GetInt("max-backoff-ms"));
  double jitter = 0.25;
  if (inv.Has("jitter") && !absl::SimpleAtod(inv.GetString("jitter"), &jitter)) {
    return UsageError(absl::StrCat("--jitter must be a number from 0 to 1, not \"",
                                   inv.GetString("jitter"), "\""));
  }
  policy->set_jitter(jitter);
  return request;
}

absl::StatusOr<v1::StartRunRequest> BuildStartRunRequest(const Invocation& inv) {
  v1::StartRunRequest request;
  request.set_workflow(inv.args.at(0));
  if (inv.args.size() > 1) {
    if (std::optional<std::string> error = JsonSyntaxError(inv.args[1]); error.has_value()) {
      return UsageError(absl::StrCat("JSON argument (input_json) is malformed: ", *error));
    }
    request.set_input_json(inv.args[1]);
  }
  request.set_idempotency_key(inv.GetString("idempotency-key"));
  return request;
}

absl::StatusOr<v1::ListRunsRequest> BuildListRunsRequest(const Invocation& inv) {
  v1::ListRunsRequest request;
  request.set_workflow(inv.GetString("workflow"));
  if (inv.Has("status")) {
    PGQRS_ASSIGN_OR_RETURN(v1::RunStatus status, ParseRunStatus(inv.GetString("status")));
    request.set_status(status);
  }
  return request;
}

absl::StatusOr<v1::RunStatus> ParseRunStatus(std::string_view text) {
  return ParseEnum<v1::RunStatus>(v1::RunStatus_descriptor(), text, "--status");
}

absl::StatusOr<v1::WorkerRole> ParseRole(std::string_view text) {
  return ParseEnum<v1::WorkerRole>(v1::WorkerRole_descriptor(), text, "--role");
}

absl::StatusOr<v1::WorkerStatus> ParseWorkerStatus(std::string_view text) {
  return ParseEnum<v1::WorkerStatus>(v1::WorkerStatus_descriptor(), text, "--status");
}

absl::StatusOr<std::pair<std::string, std::string>> ParseLabel(std::string_view text) {
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return UsageError(absl::StrCat("--label must be KEY=VALUE, not \"", Absl(text), "\""));
  }
  return std::make_pair(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
}

absl::StatusOr<std::vector<int64_t>> ParseIds(const std::vector<std::string>& texts,
                                              std::string_view what) {
  std::vector<int64_t> ids;
  for (const std::string& text : texts) {
    PGQRS_ASSIGN_OR_RETURN(int64_t id, ParseInt64(text, what));
    ids.push_back(id);
  }
  return ids;
}

}  // namespace pgqrs::cli
