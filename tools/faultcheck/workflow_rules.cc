// Workflow rules. Workers give every step execution a unique output (it carries a nonce), so
// a replay that returns another output, or a second CompleteStep, shows the step ran again.
// A step "completed" at the end of the first CompleteStep call that returned OK; every
// BeginStep of the step that started after that instant must return COMPLETED with that
// output, and no side effect may be authorised by a BeginStep that started after it.
#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "tools/faultcheck/rules.h"

namespace pgqrs::faultcheck {
namespace {

using StepKey = std::pair<int64_t, std::string>;  // run id, step name

struct StepFacts {
  std::vector<size_t> completions;  // CompleteStep calls that returned OK
  std::vector<size_t> effects;
  std::vector<size_t> begins;  // BeginStep calls that returned OK
};

struct Facts {
  std::map<StepKey, StepFacts> steps;
  std::map<int64_t, size_t> started;  // StartRun calls that returned OK, by run
  std::map<int64_t, size_t> finals;   // final_run events, by run
};

Facts Collect(const History& history) {
  Facts facts;
  for (size_t i = 0; i < history.size(); ++i) {
    const Event& e = history[i];
    const std::string op = e.value("op", "");
    int64_t run = e.value("run", int64_t{0});
    StepKey key{run, e.value("step", "")};
    if (op == "complete_step" && IsOk(e)) {
      facts.steps[key].completions.push_back(i);
    } else if (op == "effect") {
      facts.steps[key].effects.push_back(i);
    } else if (op == "begin_step" && IsOk(e)) {
      facts.steps[key].begins.push_back(i);
    } else if (op == "start_run" && IsOk(e)) {
      facts.started.emplace(run, i);
    } else if (op == "final_run") {
      facts.finals[run] = i;
    }
  }
  return facts;
}

// Outputs are compared as JSON values: a store may re-serialise them (PostgreSQL's JSONB
// reorders keys and respaces).
bool SameOutput(const std::string& a, const std::string& b) {
  Event x = Event::parse(a, nullptr, /*allow_exceptions=*/false);
  Event y = Event::parse(b, nullptr, /*allow_exceptions=*/false);
  if (x.is_discarded() || y.is_discarded()) return a == b;
  return x == y;
}

std::string Describe(const StepKey& key) {
  return absl::StrCat("run ", key.first, " step ", key.second);
}

void CheckReplays(const History& history, const StepKey& key, const StepFacts& s, size_t completion,
                  const Facts& facts, CheckResult* result) {
  const Event& done = history[completion];
  const std::string output = done.value("output", "");
  for (size_t b : s.begins) {
    const Event& begin = history[b];
    if (Start(begin) <= End(done)) continue;
    if (begin.value("outcome", "") == "COMPLETED" && SameOutput(begin.value("output", ""), output))
      continue;
    result->violations.push_back(
        {"lost_step",
         absl::StrCat(Describe(key), ": BeginStep after the completion returned ",
                      begin.value("outcome", ""), " with output ", begin.value("output", "")),
         {completion, b}});
  }
  auto final_it = facts.finals.find(key.first);
  if (final_it == facts.finals.end()) {
    result->violations.push_back(
        {"lost_step",
         absl::StrCat(Describe(key), ": completed but the run was never read back"),
         {completion}});
    return;
  }
  const Event& final_run = history[final_it->second];
  Event step = final_run.value("steps", Event::object()).value(key.second, Event::object());
  if (step.value("status", "") == "COMPLETED" && SameOutput(step.value("output", ""), output))
    return;
  result->violations.push_back(
      {"lost_step",
       absl::StrCat(Describe(key), ": final step is ", step.value("status", "missing"),
                    " with output ", step.value("output", "")),
       {completion, final_it->second}});
}

void CheckStep(const History& history, const StepKey& key, const StepFacts& s, const Facts& facts,
               CheckResult* result) {
  if (s.completions.empty()) return;
  ++result->steps_checked;
  size_t first =
      *std::min_element(s.completions.begin(), s.completions.end(),
                        [&](size_t a, size_t b) { return End(history[a]) < End(history[b]); });
  if (s.completions.size() > 1) {
    result->violations.push_back(
        {"double_completion",
         absl::StrCat(Describe(key), ": CompleteStep returned OK ", s.completions.size(), " times"),
         s.completions});
  }
  for (size_t effect : s.effects) {
    if (Start(history[effect]) <= End(history[first])) continue;
    result->violations.push_back(
        {"double_side_effect",
         absl::StrCat(Describe(key), ": side effect ran after the step's completion"),
         {first, effect}});
  }
  CheckReplays(history, key, s, first, facts, result);
}

void CheckRunsFinished(const History& history, const Facts& facts, CheckResult* result) {
  for (const auto& [run, started] : facts.started) {
    ++result->runs_checked;
    auto final_it = facts.finals.find(run);
    std::string status =
        final_it == facts.finals.end() ? "not read" : history[final_it->second].value("status", "");
    if (status == "SUCCEEDED") continue;
    Violation v{"unfinished_run",
                absl::StrCat("run ", run, ": StartRun returned OK, final status ", status),
                {started}};
    if (final_it != facts.finals.end()) v.events.push_back(final_it->second);
    result->violations.push_back(std::move(v));
  }
}

}  // namespace

void CheckWorkflows(const History& history, CheckResult* result) {
  Facts facts = Collect(history);
  for (const auto& [key, s] : facts.steps) CheckStep(history, key, s, facts, result);
  CheckRunsFinished(history, facts, result);
}

}  // namespace pgqrs::faultcheck
