// The enqueue, lifecycle and drain workloads, run the same way against any Target:
//
//   enqueue    P producers call Enqueue with batches of B; latency is the call's.
//   lifecycle  P producers enqueue, C consumers Dequeue (up to B) and Ack; latency is
//              per message, from the moment the producer built it to its Ack's reply.
//              Producers pause while the backlog exceeds EffectiveBacklog(), so the
//              run measures a short queue, not a growing one.
//   drain      `preload` messages are loaded first (not measured), then C consumers
//              dequeue and ack until none are left; latency is one dequeue+ack cycle.
//
// On a target that pipelines (Target::pipelines()), each worker keeps up to
// options.window calls in flight: a producer sends its next Enqueue before the previous
// one is answered, a consumer acks each dequeued batch without waiting; every answer is
// still collected and checked, and a message counts only once its Ack answered OK. Call
// and enqueue_to_ack latencies end when the answer arrived. Other targets run with a
// window of 1, each call answered before the next.
//
// Each worker thread has its own Session. A warm-up runs the same loops unmeasured
// (except drain, whose load is fixed), then the measured phase lasts options.duration
// or until options.messages messages completed. Errors are counted by code and the
// loops carry on.
#pragma once

#include "absl/status/statusor.h"
#include "tools/bench/options.h"
#include "tools/bench/report.h"
#include "tools/bench/target.h"

namespace pgqrs::bench {

// Runs options.scenario against `target`, which it Sets up and Tears down. Fills
// everything in the result except tool, server and extra. Fails only when the target
// cannot be set up or a session cannot be opened.
// REQUIRES: options.scenario is not kLongPoll.
absl::StatusOr<RunResult> RunWorkload(Target& target, const WorkloadOptions& options);

}  // namespace pgqrs::bench
