// Checks a faultcheck history (history.h) against the queue's and workflows' guarantees:
//
//   lost_enqueue        an Enqueue returned OK but its message was neither archived nor
//                       dead-lettered when the drain ended;
//   delivered_after_ack a Dequeue that started after an Ack of the message returned OK
//                       returned the message;
//   overlapping_leases  two receipts of one message were valid at the same time;
//   double_completion   a workflow step's CompleteStep returned OK twice;
//   double_side_effect  a step's side effect ran although its completion had returned OK;
//   lost_step           a completed step was later begun as not completed, replayed with
//                       another output, or missing from the run's final steps;
//   unfinished_run      a StartRun returned OK but the run had not succeeded after the drain;
//   missing_fault       a fault kind the run was asked to inject was never injected.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tools/faultcheck/history.h"

namespace pgqrs::faultcheck {

struct CheckOptions {
  // A lease counts as held until the server-reported visible_at minus this margin: it
  // absorbs timestamp rounding and clock skew between the clients and the server.
  int64_t clock_margin_us = 10'000;
  // Fault kinds that must appear in the history at least once.
  std::set<std::string> required_faults;
};

struct Violation {
  std::string rule;
  std::string detail;
  // Positions in the history of the events that show it.
  std::vector<size_t> events;
};

struct CheckResult {
  std::vector<Violation> violations;
  std::map<std::string, int64_t> operations;  // calls by op
  std::map<std::string, int64_t> faults;      // faults by kind
  int64_t messages_checked = 0;
  int64_t leases_checked = 0;
  int64_t runs_checked = 0;
  int64_t steps_checked = 0;

  bool ok() const { return violations.empty(); }
};

CheckResult CheckHistory(const History& history, const CheckOptions& options);

// The verdict ("faultcheck: PASS" or "faultcheck: FAIL"), the counts, and for each violation
// (at most `max_violations`) its rule, detail and the history lines that show it.
std::string FormatReport(const CheckResult& result, const History& history,
                         size_t max_violations = 10);

}  // namespace pgqrs::faultcheck
