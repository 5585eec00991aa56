#include "tools/pgqrs/views.h"

#include "absl/strings/str_cat.h"

namespace pgqrs::cli {

const std::vector<std::string>& QueueColumns() {
  static const auto* const kColumns =
      new std::vector<std::string>{"name", "max_read_count", "visibility_timeout_ms", "created_at"};
  return *kColumns;
}

const std::vector<std::string>& ReceivedColumns() {
  static const auto* const kColumns =
      new std::vector<std::string>{"id", "payload_json", "receipt", "read_count", "visible_at"};
  return *kColumns;
}

const std::vector<std::string>& DeadLetterColumns() {
  static const auto* const kColumns =
      new std::vector<std::string>{"id", "read_count", "enqueued_at", "payload_json"};
  return *kColumns;
}

const std::vector<std::string>& WorkerColumns() {
  static const auto* const kColumns = new std::vector<std::string>{
      "id", "name", "queue", "role", "status", "hostname", "leased_messages", "heartbeat_at"};
  return *kColumns;
}

const std::vector<std::string>& WorkflowColumns() {
  static const auto* const kColumns = new std::vector<std::string>{
      "name", "retry_policy.max_attempts", "retry_policy.base_backoff_ms",
      "retry_policy.max_backoff_ms", "retry_policy.jitter", "created_at"};
  return *kColumns;
}

const std::vector<std::string>& RunColumns() {
  static const auto* const kColumns = new std::vector<std::string>{
      "id", "workflow", "status", "worker_id", "updated_at", "input_json", "output_json",
      "error_json"};
  return *kColumns;
}

const std::vector<std::string>& StepColumns() {
  static const auto* const kColumns = new std::vector<std::string>{
      "step_name", "status", "attempts", "retry_at", "exhausted", "output_json", "error_json"};
  return *kColumns;
}

void PrintMessageIds(Printer& printer, const v1::EnqueueResponse& response) {
  if (printer.format() == OutputFormat::kJson) {
    printer.PrintRecord(response);
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (int64_t id : response.message_ids()) {
    rows.push_back({absl::StrCat(id)});
  }
  printer.PrintCustom({"ID"}, rows, {});
}

int PrintReceiptResults(Printer& printer, const std::vector<std::string>& receipts,
                        const v1::ReceiptResponse& response) {
  std::vector<std::vector<std::string>> rows;
  std::vector<nlohmann::json> objects;
  int failed = 0;
  for (size_t i = 0; i < receipts.size(); ++i) {
    const v1::ReceiptResult result = static_cast<int>(i) < response.results_size()
                                         ? response.results(static_cast<int>(i))
                                         : v1::RECEIPT_RESULT_UNSPECIFIED;
    const auto* value = v1::ReceiptResult_descriptor()->FindValueByNumber(result);
    const std::string name =
        value != nullptr ? value->name() : absl::StrCat("RECEIPT_RESULT_", result);
    failed += result == v1::RECEIPT_RESULT_OK ? 0 : 1;
    rows.push_back({receipts[i], value != nullptr ? ShortEnumName(*value) : name});
    objects.push_back({{"receipt", receipts[i]}, {"result", name}});
  }
  printer.PrintCustom({"RECEIPT", "RESULT"}, rows, objects);
  return failed;
}

}  // namespace pgqrs::cli
