"""A pgqrs workflow worker in Python, over the generated gRPC stubs.

The worker loop is the one every language follows: claim a run (long-polling), then for
each step BeginStep; run the step only when the outcome is STARTED and record its output
with CompleteStep; a COMPLETED outcome replays the stored output instead. Finally
CompleteRun.

Usage: workflow_worker.py SERVER WORKFLOW EFFECTS_FILE [--crash-after N]
  EFFECTS_FILE gets one line per step actually executed (the side effect to count).
  --crash-after N: exit without finishing the run after N executed steps, as a crashed
  worker would (no CompleteRun, no release: its lease must expire).
Prints the claimed run id and each step's outcome on stdout.
"""

import json
import sys

import grpc

from proto.pgqrs.v1 import workflow_pb2 as wf
from proto.pgqrs.v1 import workflow_pb2_grpc as wf_grpc

STEPS = ["fetch", "transform", "store"]


def run_step(stub, run, receipt, name, effects_path, executed):
    begun = stub.BeginStep(wf.BeginStepRequest(run_id=run.id, step_name=name, receipt=receipt))
    outcome = wf.StepOutcome.Name(begun.outcome)
    print(f"step {name} {outcome}", flush=True)
    if begun.outcome == wf.STEP_OUTCOME_COMPLETED:
        return json.loads(begun.output_json)
    if begun.outcome != wf.STEP_OUTCOME_STARTED:
        raise RuntimeError(f"step {name}: unexpected outcome {outcome}")
    data = json.loads(run.input_json)
    output = {"step": name, "n": data["n"] * (STEPS.index(name) + 1)}
    with open(effects_path, "a") as effects:  # the side effect, counted by the test
        effects.write(name + "\n")
    executed.append(name)
    stub.CompleteStep(wf.CompleteStepRequest(run_id=run.id, step_name=name,
                                             output_json=json.dumps(output), receipt=receipt))
    return output


def main():
    server, workflow, effects_path = sys.argv[1:4]
    crash_after = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[4] == "--crash-after" else None
    channel = grpc.insecure_channel(server)
    stub = wf_grpc.WorkflowServiceStub(channel)
    claim = stub.ClaimRun(wf.ClaimRunRequest(workflow=workflow, wait_ms=20000,
                                             visibility_timeout_ms=1500), timeout=30)
    if not claim.HasField("run"):
        print("no run", flush=True)
        return 3
    run = claim.run
    print(f"claimed {run.id}", flush=True)
    executed = []
    outputs = []
    for name in STEPS:
        outputs.append(run_step(stub, run, claim.receipt, name, effects_path, executed))
        if crash_after is not None and len(executed) >= crash_after:
            print("crashing", flush=True)
            return 0
    total = sum(o["n"] for o in outputs)
    done = stub.CompleteRun(wf.CompleteRunRequest(run_id=run.id, receipt=claim.receipt,
                                                  output_json=json.dumps({"total": total})))
    print(f"run {done.id} {wf.RunStatus.Name(done.status)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
