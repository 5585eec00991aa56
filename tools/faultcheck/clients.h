// The loops of faultcheck's client threads. Each runs until the phase is kStop and records
// every call through its Caller (see README.md, "Fault checking", for the event fields).
#pragma once

#include <atomic>

#include "tools/faultcheck/caller.h"
#include "tools/faultcheck/workload.h"

namespace pgqrs::faultcheck {

// Enqueues batches of 1-3 messages while the phase is kFaults.
void RunProducer(Caller& caller, const std::atomic<Phase>& phase);

// Dequeues (long-polling) and acks; while faults run it also nacks some messages and stalls
// past the lease on others.
void RunConsumer(Caller& caller, const std::atomic<Phase>& phase, const WorkloadOptions& options);

// Starts workflow runs while the phase is kFaults.
void RunStarter(Caller& caller, const std::atomic<Phase>& phase);

// Claims runs and executes their steps, recording each step's side effect as an "effect"
// event; while faults run it sometimes stalls past the lease mid-step.
void RunWorkflowWorker(Caller& caller, const std::atomic<Phase>& phase,
                       const WorkloadOptions& options);

// The steps every run executes, in order.
inline constexpr const char* kSteps[] = {"fetch", "transform", "store"};

}  // namespace pgqrs::faultcheck
