// The checker's rule families, each filling in its part of a CheckResult (checker.h).
#pragma once

#include <string>

#include "tools/faultcheck/checker.h"

namespace pgqrs::faultcheck {

// lost_enqueue, delivered_after_ack, overlapping_leases.
void CheckMessages(const History& history, const CheckOptions& options, CheckResult* result);

// double_completion, double_side_effect, lost_step, unfinished_run.
void CheckWorkflows(const History& history, CheckResult* result);

inline bool IsOk(const Event& event) { return event.value("status", "") == "OK"; }

inline int64_t Start(const Event& event) { return event.value("start", int64_t{0}); }
inline int64_t End(const Event& event) { return event.value("end", int64_t{0}); }

}  // namespace pgqrs::faultcheck
