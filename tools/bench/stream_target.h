// The pgqrs-stream target: pgqrsd's streams instead of unary calls. All producer sessions
// share one Publish stream and all consumer sessions one Consume stream, so concurrent
// enqueues and acks pipeline on them and the daemon can merge them into shared
// transactions. The target pipelines (Target::pipelines()): each worker keeps up to
// WorkloadOptions::window requests in flight, one message per request at batch 1, the way
// a producer uses publisher confirms. Every request still gets its own answer: an enqueue
// is confirmed once its message is durable, an ack once it is, and both are checked.
#pragma once

#include <memory>

#include "tools/bench/grpc_targets.h"

namespace pgqrs::bench {

// `credits`: unacked messages the Consume stream may hold (its prefetch).
std::unique_ptr<Target> NewPgqrsStreamTarget(const GrpcTargetOptions& options, int credits);

}  // namespace pgqrs::bench
