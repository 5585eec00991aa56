#include <thread>

#include "absl/strings/str_cat.h"
#include "tools/faultcheck/clients.h"

namespace pgqrs::faultcheck {
namespace {

struct Claim {
  int64_t run = 0;
  std::string receipt;
};

std::string OutcomeName(v1::StepOutcome outcome) {
  return v1::StepOutcome_Name(outcome).substr(std::string("STEP_OUTCOME_").size());
}

Claim ClaimRun(Caller& caller, const WorkloadOptions& options) {
  v1::ClaimRunRequest request;
  request.set_workflow(kWorkflow);
  request.set_visibility_timeout_ms(options.visibility_timeout_ms);
  request.set_wait_ms(200);
  v1::ClaimRunResponse response;
  Event event = caller.Run("claim_run", [&](Stubs& stubs, grpc::ClientContext* ctx) {
    return stubs.workflows->ClaimRun(ctx, request, &response);
  });
  Claim claim;
  if (event["status"] == "OK" && response.has_run()) {
    claim = {response.run().id(), response.receipt()};
    event["run"] = claim.run;
    event["receipt"] = claim.receipt;
  }
  if (event["status"] != "OK") std::this_thread::sleep_for(std::chrono::milliseconds(50));
  caller.Record(std::move(event));
  return claim;
}

// Runs the step's body: its side effect is the "effect" event, stamped with the start of
// the BeginStep that authorised it. Its output is unique to this execution.
std::string Execute(Caller& caller, const Claim& claim, const std::string& step,
                    int64_t begin_start, int execution) {
  std::string output = absl::StrCat(R"({"run":)", claim.run, R"(,"step":")", step, R"(","by":")",
                                    caller.proc(), "-", execution, R"("})");
  caller.Record({{"op", "effect"},
                 {"proc", caller.proc()},
                 {"run", claim.run},
                 {"step", step},
                 {"output", output},
                 {"start", begin_start},
                 {"end", NowMicros()}});
  return output;
}

// Begins, executes and completes one step. False when the run must be dropped.
bool DoStep(Caller& caller, const Claim& claim, const std::string& step, bool stall,
            const WorkloadOptions& options, int* executions) {
  v1::BeginStepRequest begin;
  begin.set_run_id(claim.run);
  begin.set_step_name(step);
  begin.set_receipt(claim.receipt);
  v1::BeginStepResponse begun;
  Event event = caller.Run("begin_step", [&](Stubs& stubs, grpc::ClientContext* ctx) {
    return stubs.workflows->BeginStep(ctx, begin, &begun);
  });
  event.update({{"run", claim.run}, {"step", step}, {"receipt", claim.receipt}});
  bool ok = event["status"] == "OK";
  if (ok)
    event.update({{"outcome", OutcomeName(begun.outcome())}, {"output", begun.output_json()}});
  int64_t begin_start = event["start"];
  caller.Record(std::move(event));
  if (!ok) return false;
  if (begun.outcome() == v1::STEP_OUTCOME_COMPLETED) return true;
  if (begun.outcome() != v1::STEP_OUTCOME_STARTED) return false;

  std::string output = Execute(caller, claim, step, begin_start, ++*executions);
  if (stall)
    std::this_thread::sleep_for(std::chrono::milliseconds(options.visibility_timeout_ms + 200));
  v1::CompleteStepRequest complete;
  complete.set_run_id(claim.run);
  complete.set_step_name(step);
  complete.set_output_json(output);
  complete.set_receipt(claim.receipt);
  v1::Step stored;
  Event done = caller.Run("complete_step", [&](Stubs& stubs, grpc::ClientContext* ctx) {
    return stubs.workflows->CompleteStep(ctx, complete, &stored);
  });
  done.update({{"run", claim.run}, {"step", step}, {"receipt", claim.receipt}, {"output", output}});
  ok = done["status"] == "OK";
  caller.Record(std::move(done));
  return ok;
}

void CompleteRun(Caller& caller, const Claim& claim) {
  v1::CompleteRunRequest request;
  request.set_run_id(claim.run);
  request.set_output_json(R"({"done":true})");
  request.set_receipt(claim.receipt);
  v1::Run run;
  Event event = caller.Run("complete_run", [&](Stubs& stubs, grpc::ClientContext* ctx) {
    return stubs.workflows->CompleteRun(ctx, request, &run);
  });
  event.update({{"run", claim.run}, {"receipt", claim.receipt}});
  caller.Record(std::move(event));
}

}  // namespace

void RunWorkflowWorker(Caller& caller, const std::atomic<Phase>& phase,
                       const WorkloadOptions& options) {
  int executions = 0;
  while (phase != Phase::kStop) {
    Claim claim = ClaimRun(caller, options);
    if (claim.run == 0) continue;
    bool alive = true;
    for (const char* step : kSteps) {
      bool stall = phase == Phase::kFaults && caller.Percent() < 5;
      alive = DoStep(caller, claim, step, stall, options, &executions);
      if (!alive) break;
    }
    if (alive) CompleteRun(caller, claim);
  }
}

}  // namespace pgqrs::faultcheck
