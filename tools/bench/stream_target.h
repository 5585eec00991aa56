// The pgqrs-stream target: pgqrsd's streams instead of unary calls. All producer sessions
// share one Publish stream and all consumer sessions one Consume stream, so concurrent
// enqueues and acks pipeline on them and the daemon can merge them into shared
// transactions. Every call still waits for its own answer: an enqueue returns once its
// message is durable, an ack once it is, exactly like the unary target.
#pragma once

#include <memory>

#include "tools/bench/grpc_targets.h"

namespace pgqrs::bench {

// `credits`: unacked messages the Consume stream may hold (its prefetch).
std::unique_ptr<Target> NewPgqrsStreamTarget(const GrpcTargetOptions& options, int credits);

}  // namespace pgqrs::bench
