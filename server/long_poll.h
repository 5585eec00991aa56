// Calls that may wait without a thread: Dequeue and ClaimRun (with or without wait_ms),
// and WaitRun. A reactor tries its call and, when it found nothing to answer yet, parks
// on the WaiterRegistry under a key (a queue name, or "run:<id>") until a Notify of that
// key, the reaper, its deadline, cancellation or shutdown wakes it to try again.
//
// A caller that is gone gets nothing: a try is not started once the call is cancelled
// or past its client deadline, and what an answering try took (leases) is given back
// when the call was cancelled before its reply got out.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/pgqrs/v1/queue.pb.h"
#include "server/call.h"
#include "server/call_groups.h"
#include "storage/types.h"

namespace pgqrs::server {

// One try of a parked call, run on the executor. It fills the call's response and
// returns true when the call is answered; false parks the call again. At the deadline
// and at shutdown the call answers OK with the response as last filled; on cancellation
// it answers CANCELLED. An error answers the call with it.
using ParkedAttempt = std::function<absl::StatusOr<bool>()>;

// Undoes what the answering try took, when its reply cannot reach the caller. Runs at
// most once, on the executor, possibly after the call's request and response are gone:
// it must capture what it needs by value.
using GiveBack = std::function<void()>;

// Starts a parked call on `key` that waits until `deadline` (now: try once). The returned
// reactor deletes itself when gRPC is done with it. `attempt` and whatever it captures
// must outlive the call. `give_back` may be empty.
grpc::ServerUnaryReactor* StartParkedCall(grpc::CallbackServerContext* context, ServiceDeps deps,
                                          std::string key, absl::Time deadline,
                                          ParkedAttempt attempt, GiveBack give_back);

struct PollState;

// The first try of one Dequeue call. Concurrent first tries of one queue with the same
// options are made in one store call (CallGroups); a call whose
// try leased nothing parks and later tries alone.
struct DequeueTry {
  std::shared_ptr<PollState> state;
  std::string queue;
  storage::DequeueOptions options;
  v1::DequeueResponse* response;
  // What the try leased, for the give-back.
  std::shared_ptr<std::vector<storage::Lease>> taken;
  // The queue's waiter version read before the store call: a call that parks wakes at once
  // on a Notify since then. Set by DequeueTogether.
  uint64_t version = 0;

  std::optional<grpc::Status> Gone() const;
  // An error answers the call; OK answers it when the try leased something, else parks it
  // (or answers empty at its deadline).
  void Finish(const grpc::Status& status);
};

// Makes the first tries of `group` (one key) in one Store::Dequeue: each call gets, in
// order, up to its own max_messages of what it leased.
absl::Status DequeueTogether(ServiceDeps deps, std::span<DequeueTry> group);

// Dequeue: answers as soon as it leased something, or empty at `deadline`. Its first try
// joins `first_tries`. Leases whose reply cannot be delivered are returned at once
// (Store::ReturnLeases: read count restored).
grpc::ServerUnaryReactor* StartDequeue(grpc::CallbackServerContext* context, ServiceDeps deps,
                                       std::string queue, storage::DequeueOptions options,
                                       absl::Time deadline, v1::DequeueResponse* response,
                                       CallGroups<DequeueTry>& first_tries);

}  // namespace pgqrs::server
