// QueueService.Consume: a bidirectional stream that pushes leased messages to its client
// as soon as they are visible, within the credits the client granted, and settles the
// client's receipts (ack, nack, extend) and worker heartbeats on the same stream.
//
// The contract (API in proto/pgqrs/v1/queue.proto):
// - The first request names the queue (checked against the caller's token), and optionally
//   a consumer worker and a visibility timeout. Every request may add credits.
// - The stream never holds more unsettled messages than the credits granted: a pushed
//   message holds a credit until it is acked or nacked on this stream (whatever the result).
// - It leases only while the stream lives; with nothing visible it parks on the waiter
//   registry (no thread, no polling) and is woken by enqueues, nacks and lease expiry.
// - Receipts of one request are settled together (acks of several requests share one
//   store call) and answered with one result per receipt, echoing request_id.
// - When the stream ends (half-close, cancel, dropped connection, shutdown), leases never
//   written to it are returned as if never taken, and delivered ones are released at once
//   (a nack without delay), unless the client asked to keep them until they expire.
#pragma once

#include "proto/pgqrs/v1/queue.grpc.pb.h"
#include "server/call.h"

namespace pgqrs::server {

// Starts the stream; `check` authorizes the queue its first request names.
grpc::ServerBidiReactor<v1::ConsumeRequest, v1::ConsumeResponse>* StartConsumeStream(
    grpc::CallbackServerContext* context, ServiceDeps deps, MessageCheck check);

}  // namespace pgqrs::server
