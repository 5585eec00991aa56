// The checker catches each kind of violation in a hand-made history, and passes a
// well-behaved one (including a re-lease right at the old lease's visible_at).
#include "tools/faultcheck/checker.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>

namespace pgqrs::faultcheck {
namespace {

constexpr int64_t kMs = 1000;

Event Call(const std::string& op, int64_t start_ms, int64_t end_ms, Event fields) {
  Event e = {{"op", op},
             {"proc", "test"},
             {"daemon", 0},
             {"start", start_ms * kMs},
             {"end", end_ms * kMs},
             {"status", "OK"}};
  e.update(fields);
  return e;
}

Event Enqueue(int64_t t, int64_t id) { return Call("enqueue", t, t + 1, {{"ids", {id}}}); }

Event Dequeue(int64_t t, int64_t id, const std::string& receipt, int64_t visible_at_ms) {
  return Call(
      "dequeue", t, t + 1,
      {{"messages", {{{"id", id}, {"receipt", receipt}, {"visible_at", visible_at_ms * kMs}}}}});
}

Event Ack(int64_t t, int64_t id, const std::string& receipt, const std::string& result = "OK") {
  return Call("ack", t, t + 1, {{"id", id}, {"receipt", receipt}, {"result", result}});
}

Event FinalMessage(int64_t id, const std::string& state) {
  return {{"op", "final_message"}, {"id", id}, {"state", state}, {"start", 0}, {"end", 0}};
}

Event Begin(int64_t t, const std::string& outcome, const std::string& output = "") {
  return Call("begin_step", t, t + 1,
              {{"run", 7}, {"step", "fetch"}, {"outcome", outcome}, {"output", output}});
}

Event Effect(int64_t begin_start, const std::string& output) {
  return {{"op", "effect"},
          {"proc", "test"},
          {"run", 7},
          {"step", "fetch"},
          {"output", output},
          {"start", begin_start * kMs},
          {"end", (begin_start + 2) * kMs}};
}

Event Complete(int64_t t, const std::string& output) {
  return Call("complete_step", t, t + 1, {{"run", 7}, {"step", "fetch"}, {"output", output}});
}

Event FinalRun(const std::string& status, const std::string& step_status,
               const std::string& output) {
  return {
      {"op", "final_run"}, {"run", 7},
      {"status", status},  {"steps", {{"fetch", {{"status", step_status}, {"output", output}}}}},
      {"start", 0},        {"end", 0}};
}

// Message 1: enqueued, leased (lease ends at 1100 ms), the lease expires, leased again at
// exactly its visible_at, acked; drained as ARCHIVED. Run 7: started, step "fetch" executed
// and completed, then replayed by a second worker, the run succeeded.
History GoodHistory() {
  return {
      Enqueue(0, 1),
      Dequeue(100, 1, "r1", 1100),
      Dequeue(1099, 1, "r2", 2100),  // replied at 1100 ms: the old lease is just over
      Ack(1500, 1, "r2"),
      Ack(1600, 1, "r1", "LEASE_LOST"),
      Call("start_run", 0, 1, {{"run", 7}}),
      Begin(10, "STARTED"),
      Effect(10, "out-a"),
      Complete(20, "out-a"),
      Begin(30, "COMPLETED", "out-a"),
      {{"op", "fault"}, {"kind", "kill"}, {"daemon", 0}, {"start", 0}, {"end", 1}},
      FinalMessage(1, "ARCHIVED"),
      FinalRun("SUCCEEDED", "COMPLETED", "out-a"),
  };
}

std::vector<std::string> Rules(const History& history, const CheckOptions& options = {}) {
  CheckResult result = CheckHistory(history, options);
  std::vector<std::string> rules;
  for (const Violation& v : result.violations) rules.push_back(v.rule);
  return rules;
}

bool Has(const std::vector<std::string>& rules, const std::string& rule) {
  return std::find(rules.begin(), rules.end(), rule) != rules.end();
}

TEST_CASE("a well-behaved history passes", "[checker]") {
  History history = GoodHistory();
  CheckResult result = CheckHistory(history, {10 * kMs, {"kill"}});
  INFO(FormatReport(result, history));
  CHECK(result.ok());
  CHECK(result.messages_checked == 1);
  CHECK(result.leases_checked == 2);
  CHECK(result.runs_checked == 1);
  CHECK(result.steps_checked == 1);
  CHECK(result.faults.at("kill") == 1);
  CHECK(FormatReport(result, history).rfind("faultcheck: PASS\n", 0) == 0);
}

TEST_CASE("an OK enqueue that was never delivered is a lost enqueue", "[checker]") {
  History history = GoodHistory();
  history.push_back(Enqueue(5, 2));
  history.push_back(FinalMessage(2, "MISSING"));
  CHECK(Rules(history) == std::vector<std::string>{"lost_enqueue"});

  History unread = GoodHistory();
  unread.push_back(Enqueue(5, 3));  // never read back after the drain
  CHECK(Rules(unread) == std::vector<std::string>{"lost_enqueue"});
}

TEST_CASE("a dead letter is not lost", "[checker]") {
  History history = GoodHistory();
  history.push_back(Enqueue(5, 2));
  history.push_back(FinalMessage(2, "DEAD"));
  CHECK(Rules(history).empty());
}

TEST_CASE("a delivery after an OK ack is caught", "[checker]") {
  History history = GoodHistory();
  history.push_back(Dequeue(1700, 1, "r3", 2700));  // after the ack of r2 returned at 1501
  std::vector<std::string> rules = Rules(history);
  CHECK(Has(rules, "delivered_after_ack"));
}

TEST_CASE("overlapping leases of two receipts are caught", "[checker]") {
  History history = GoodHistory();
  history.push_back(Enqueue(0, 5));
  history.push_back(Dequeue(100, 5, "a", 1100));
  history.push_back(Dequeue(500, 5, "b", 1500));  // while "a" still holds it
  history.push_back(Ack(1200, 5, "b"));
  history.push_back(FinalMessage(5, "ARCHIVED"));
  CHECK(Rules(history) == std::vector<std::string>{"overlapping_leases"});
}

TEST_CASE("an ack ends a lease: a later lease does not overlap", "[checker]") {
  History history = GoodHistory();
  history.push_back(Enqueue(0, 5));
  history.push_back(Dequeue(100, 5, "a", 10'000));
  history.push_back(Call("nack", 200, 201, {{"id", 5}, {"receipt", "a"}, {"result", "OK"}}));
  history.push_back(Dequeue(300, 5, "b", 10'000));
  history.push_back(Ack(400, 5, "b"));
  history.push_back(FinalMessage(5, "ARCHIVED"));
  CHECK(Rules(history).empty());
}

TEST_CASE("a completed step begun again as not completed is a lost step", "[checker]") {
  History history = GoodHistory();
  history.push_back(Begin(40, "STARTED"));
  CHECK(Rules(history) == std::vector<std::string>{"lost_step"});

  History replayed_wrong = GoodHistory();
  replayed_wrong.push_back(Begin(40, "COMPLETED", "out-other"));
  CHECK(Rules(replayed_wrong) == std::vector<std::string>{"lost_step"});

  History forgotten = GoodHistory();
  forgotten.back() = FinalRun("SUCCEEDED", "STARTED", "");
  CHECK(Rules(forgotten) == std::vector<std::string>{"lost_step"});
}

TEST_CASE("outputs compare as JSON values, as a store may re-serialise them", "[checker]") {
  History history = GoodHistory();
  history[8] = Complete(20, R"({"a":1,"b":"x"})");
  history[9] = Begin(30, "COMPLETED", R"({"b": "x", "a": 1})");
  history.back() = FinalRun("SUCCEEDED", "COMPLETED", R"({"b": "x", "a": 1})");
  CHECK(Rules(history).empty());

  history.back() = FinalRun("SUCCEEDED", "COMPLETED", R"({"b": "y", "a": 1})");
  CHECK(Rules(history) == std::vector<std::string>{"lost_step"});
}

TEST_CASE("a side effect after the step's completion is caught", "[checker]") {
  History history = GoodHistory();
  history.push_back(Effect(40, "out-b"));
  CHECK(Rules(history) == std::vector<std::string>{"double_side_effect"});
}

TEST_CASE("a side effect whose completion failed may run again", "[checker]") {
  History history = GoodHistory();
  // Executed before the completion, under a lease that was then lost: at least once.
  history.insert(history.begin() + 6, Effect(5, "out-lost"));
  CHECK(Rules(history).empty());
}

TEST_CASE("a step completed twice is caught", "[checker]") {
  History history = GoodHistory();
  history.push_back(Complete(50, "out-a"));
  CHECK(Has(Rules(history), "double_completion"));
}

TEST_CASE("a started run that did not succeed is caught", "[checker]") {
  History history = GoodHistory();
  history.back() = FinalRun("RUNNING", "COMPLETED", "out-a");
  CHECK(Rules(history) == std::vector<std::string>{"unfinished_run"});
}

TEST_CASE("an enabled fault kind that never happened fails the run", "[checker]") {
  CheckOptions options;
  options.required_faults = {"kill", "pause"};
  CHECK(Rules(GoodHistory(), options) == std::vector<std::string>{"missing_fault"});
}

TEST_CASE("the report shows the offending history lines", "[checker]") {
  History history = GoodHistory();
  history.push_back(Effect(40, "out-b"));
  CheckResult result = CheckHistory(history, {});
  std::string report = FormatReport(result, history);
  CHECK(report.rfind("faultcheck: FAIL\n", 0) == 0);
  CHECK(report.find("violation double_side_effect: run 7 step fetch") != std::string::npos);
  CHECK(report.find("history line 9: ") != std::string::npos);  // the completion
  CHECK(report.find("\"out-b\"") != std::string::npos);         // the second effect
}

}  // namespace
}  // namespace pgqrs::faultcheck
