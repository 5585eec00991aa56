// QueueService.Publish: a bidirectional stream of enqueues. The client pipelines requests,
// each with its own sequence number; the server answers each once its messages are
// durable (the store's commit, as for Enqueue) or with its error, in request order.
//
// Requests that arrive while the store is busy are merged: consecutive requests for the
// same queue and producer share one transaction (up to --max_batch messages), each still
// answered with its own ids. A merged call that fails fails each of its requests with that
// error. Every request's queue is checked against the caller's token; a refusal ends the
// stream. The stream stops reading while too many requests or bytes wait for an answer.
// When the client half-closes, every request read is answered before the stream ends; when
// it cancels, requests not yet stored are dropped.
#pragma once

#include "proto/pgqrs/v1/queue.grpc.pb.h"
#include "server/call.h"

namespace pgqrs::server {

grpc::ServerBidiReactor<v1::PublishRequest, v1::PublishResponse>* StartPublishStream(
    grpc::CallbackServerContext* context, ServiceDeps deps, MessageCheck check);

}  // namespace pgqrs::server
