#include "tools/faultcheck/checker.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/faultcheck/rules.h"

namespace pgqrs::faultcheck {
namespace {

bool CutShort(const Event& call) {
  const std::string status = call.value("status", "");
  return call.value("cancel", false) && (status == "DEADLINE_EXCEEDED" || status == "CANCELLED");
}

// Calls (events with a "proc", side effects aside) by op and faults by kind. A call that a
// short deadline did cut short counts as a "cancel" fault.
void Count(const History& history, CheckResult* result) {
  for (const Event& e : history) {
    const std::string op = e.value("op", "");
    if (op == "fault") {
      ++result->faults[e.value("kind", "")];
    } else if (e.contains("proc") && op != "effect") {
      ++result->operations[op];
      if (CutShort(e)) ++result->faults["cancel"];
    }
  }
}

void CheckRequiredFaults(const CheckOptions& options, CheckResult* result) {
  for (const std::string& kind : options.required_faults) {
    if (result->faults[kind] > 0) continue;
    result->violations.push_back(
        {"missing_fault",
         absl::StrCat("fault kind ", kind, " was enabled but never injected"),
         {}});
  }
}

std::string JoinCounts(const std::map<std::string, int64_t>& counts) {
  return counts.empty() ? "none" : absl::StrJoin(counts, " ", absl::PairFormatter("="));
}

}  // namespace

CheckResult CheckHistory(const History& history, const CheckOptions& options) {
  CheckResult result;
  Count(history, &result);
  CheckMessages(history, options, &result);
  CheckWorkflows(history, &result);
  CheckRequiredFaults(options, &result);
  return result;
}

std::string FormatReport(const CheckResult& result, const History& history, size_t max_violations) {
  std::string out = absl::StrCat("faultcheck: ", result.ok() ? "PASS" : "FAIL", "\n");
  absl::StrAppend(&out, "faults: ", JoinCounts(result.faults), "\n");
  absl::StrAppend(&out, "operations: ", JoinCounts(result.operations), "\n");
  absl::StrAppend(&out, "checked: messages=", result.messages_checked,
                  " leases=", result.leases_checked, " runs=", result.runs_checked,
                  " steps=", result.steps_checked, "\n");
  if (!result.ok()) absl::StrAppend(&out, "violations: ", result.violations.size(), "\n");
  size_t shown = std::min(max_violations, result.violations.size());
  for (size_t i = 0; i < shown; ++i) {
    const Violation& v = result.violations[i];
    absl::StrAppend(&out, "violation ", v.rule, ": ", v.detail, "\n");
    for (size_t event : v.events) {
      absl::StrAppend(&out, "  history line ", event + 1, ": ", history[event].dump(), "\n");
    }
  }
  return out;
}

}  // namespace pgqrs::faultcheck
