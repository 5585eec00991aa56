// The end of a run: wait until everything enqueued has been delivered and every run has
// finished, then read back the final state of every message and run the history mentions.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "tools/faultcheck/history.h"

namespace pgqrs::faultcheck {

// Polls until the queue has nothing pending, delayed or in flight and no run is queued,
// running, paused or cancelling. DEADLINE_EXCEEDED when the count of unsettled messages has
// not fallen for `patience`.
absl::Status WaitDrained(const std::shared_ptr<grpc::Channel>& channel, absl::Duration patience);

// Appends a "final_message" event (id, state: ARCHIVED, DEAD, ... or MISSING) for every
// message id and a "final_run" event (run, status, steps by name with status and output) for
// every run id in the history. An error when the daemon could not be read.
absl::Status RecordFinalStates(const std::shared_ptr<grpc::Channel>& channel,
                               HistoryWriter* history);

}  // namespace pgqrs::faultcheck
