#include "server/queue_service.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "server/convert.h"
#include "server/enqueue_checks.h"
#include "server/long_poll.h"
#include "server/receipt.h"
#include "server/status.h"
#include "server/validation.h"

namespace pgqrs::server {
namespace {

absl::StatusOr<storage::DequeueOptions> CheckDequeue(const v1::DequeueRequest& req,
                                                     const Limits& limits) {
  PGQRS_RETURN_IF_ERROR(CheckName("queue", req.queue()));
  storage::DequeueOptions options;
  options.max_messages = req.max_messages() == 0 ? 1 : req.max_messages();
  if (options.max_messages < 0 || options.max_messages > limits.max_batch) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_messages: ", req.max_messages(), " is outside 1 to ", limits.max_batch));
  }
  if (req.visibility_timeout_ms() != 0) {
    PGQRS_ASSIGN_OR_RETURN(options.visibility_timeout,
                           CheckMillis("visibility_timeout_ms", req.visibility_timeout_ms(),
                                       limits.max_visibility_timeout));
  }
  if (req.consumer_worker_id() < 0) {
    return absl::InvalidArgumentError("consumer_worker_id: must not be negative");
  }
  options.consumer_worker_id = req.consumer_worker_id();
  PGQRS_RETURN_IF_ERROR(CheckMillis("wait_ms", req.wait_ms(), limits.max_wait).status());
  return options;
}

template <typename Request>
absl::StatusOr<std::vector<storage::Lease>> CheckReceipts(const Request& req,
                                                          const Limits& limits) {
  PGQRS_RETURN_IF_ERROR(CheckName("queue", req.queue()));
  PGQRS_RETURN_IF_ERROR(CheckBatch("receipts", req.receipts_size(), limits.max_batch));
  std::vector<storage::Lease> leases;
  for (int i = 0; i < req.receipts_size(); ++i) {
    PGQRS_ASSIGN_OR_RETURN(storage::Lease lease,
                           DecodeReceipt(absl::StrCat("receipts[", i, "]"), req.receipts(i)));
    leases.push_back(lease);
  }
  return leases;
}

absl::Status FillResults(const absl::StatusOr<std::vector<storage::LeaseOutcome>>& outcomes,
                         v1::ReceiptResponse* resp) {
  if (!outcomes.ok()) return outcomes.status();
  for (storage::LeaseOutcome o : *outcomes) resp->add_results(ToProto(o));
  return absl::OkStatus();
}

// Stores the messages of `group` (one queue, one producer: what Enqueue can fail on) in
// one call.
absl::Status StoreEnqueues(ServiceDeps deps, std::span<EnqueueCall> group) {
  const v1::EnqueueRequest& first = *group.front().request;
  std::vector<storage::NewMessage> all;
  for (EnqueueCall& c : group) {
    std::move(c.messages.begin(), c.messages.end(), std::back_inserter(all));
  }
  absl::StatusOr<std::vector<int64_t>> ids =
      deps.store.Enqueue(first.queue(), all, first.producer_worker_id());
  if (!ids.ok()) return ids.status();
  auto id = ids->begin();
  for (EnqueueCall& c : group) {
    for (size_t i = 0; i < c.messages.size(); ++i) c.response->add_message_ids(*id++);
  }
  deps.waiters.Notify(first.queue(), static_cast<int64_t>(ids->size()));
  return absl::OkStatus();
}

// Acks the receipts of `group` (one queue) in one call.
absl::Status StoreAcks(storage::Store& store, std::span<AckCall> group) {
  std::vector<storage::Lease> all;
  for (const AckCall& c : group) all.insert(all.end(), c.leases.begin(), c.leases.end());
  PGQRS_ASSIGN_OR_RETURN(std::vector<storage::LeaseOutcome> outcomes,
                         store.Ack(group.front().request->queue(), all));
  auto outcome = outcomes.begin();
  for (AckCall& c : group) {
    for (size_t i = 0; i < c.leases.size(); ++i) c.response->add_results(ToProto(*outcome++));
  }
  return absl::OkStatus();
}

int64_t CountOk(const v1::ReceiptResponse& resp) {
  int64_t n = 0;
  for (int r : resp.results()) n += r == v1::RECEIPT_RESULT_OK;
  return n;
}

}  // namespace

QueueServiceImpl::QueueServiceImpl(ServiceDeps deps)
    : deps_(deps),
      enqueues_(deps.executor, deps.config.limits.max_batch, deps.config.executor_queue_limit,
                [deps](std::span<EnqueueCall> group) { return StoreEnqueues(deps, group); }),
      acks_(deps.executor, deps.config.limits.max_batch, deps.config.executor_queue_limit,
            [&store = deps.store](std::span<AckCall> group) { return StoreAcks(store, group); }),
      first_dequeues_(
          deps.executor, deps.config.limits.max_batch, deps.config.executor_queue_limit,
          [deps](std::span<DequeueTry> group) { return DequeueTogether(deps, group); }) {}

grpc::ServerUnaryReactor* QueueServiceImpl::CreateQueue(grpc::CallbackServerContext* ctx,
                                                        const v1::CreateQueueRequest* req,
                                                        v1::Queue* resp) {
  storage::QueueOptions options;
  options.name = req->name();
  options.if_not_exists = req->if_not_exists();
  absl::Status status = CheckName("name", req->name());
  if (status.ok() && (req->max_read_count() < 0 || req->max_read_count() > 1000000)) {
    status = absl::InvalidArgumentError("max_read_count: must be 1 to 1000000 (0 = default 5)");
  }
  if (req->max_read_count() > 0) options.max_read_count = req->max_read_count();
  if (status.ok() && req->visibility_timeout_ms() != 0) {
    absl::StatusOr<absl::Duration> vt =
        CheckMillis("visibility_timeout_ms", req->visibility_timeout_ms(),
                    deps_.config.limits.max_visibility_timeout);
    status = vt.status();
    if (vt.ok()) options.visibility_timeout = *vt;
  }
  if (!status.ok()) return FinishNow(ctx, status);
  return RunUnary(ctx, deps_.executor, [this, options, resp]() -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(storage::QueueInfo info, deps_.store.CreateQueue(options));
    ToProto(info, resp);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* QueueServiceImpl::GetQueue(grpc::CallbackServerContext* ctx,
                                                     const v1::GetQueueRequest* req,
                                                     v1::Queue* resp) {
  if (absl::Status s = CheckName("name", req->name()); !s.ok()) return FinishNow(ctx, s);
  return RunUnary(ctx, deps_.executor, [this, req, resp]() -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(storage::QueueInfo info, deps_.store.GetQueue(req->name()));
    PGQRS_ASSIGN_OR_RETURN(storage::QueueCounts counts, deps_.store.GetQueueCounts(req->name()));
    ToProto(info, resp);
    ToProto(counts, resp->mutable_stats());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* QueueServiceImpl::ListQueues(grpc::CallbackServerContext* ctx,
                                                       const v1::ListQueuesRequest* req,
                                                       v1::ListQueuesResponse* resp) {
  absl::StatusOr<int32_t> size =
      CheckPageSize(req->page_size(), kDefaultPageSize, deps_.config.limits.max_page_size);
  absl::StatusOr<std::string> after = DecodePageToken(req->page_token());
  if (!size.ok()) return FinishNow(ctx, size.status());
  if (!after.ok()) return FinishNow(ctx, after.status());
  return RunUnary(ctx, deps_.executor,
                  [this, size = *size, after = *after, resp]() -> absl::Status {
                    PGQRS_ASSIGN_OR_RETURN(std::vector<storage::QueueInfo> queues,
                                           deps_.store.ListQueues(after, size));
                    for (const storage::QueueInfo& q : queues) ToProto(q, resp->add_queues());
                    if (static_cast<int32_t>(queues.size()) == size) {
                      resp->set_next_page_token(EncodePageToken(queues.back().name));
                    }
                    return absl::OkStatus();
                  });
}

grpc::ServerUnaryReactor* QueueServiceImpl::DeleteQueue(grpc::CallbackServerContext* ctx,
                                                        const v1::DeleteQueueRequest* req,
                                                        v1::DeleteQueueResponse*) {
  if (absl::Status s = CheckName("name", req->name()); !s.ok()) return FinishNow(ctx, s);
  return RunUnary(ctx, deps_.executor,
                  [this, req] { return deps_.store.DeleteQueue(req->name(), req->force()); });
}

grpc::ServerUnaryReactor* QueueServiceImpl::PurgeQueue(grpc::CallbackServerContext* ctx,
                                                       const v1::PurgeQueueRequest* req,
                                                       v1::PurgeQueueResponse* resp) {
  if (absl::Status s = CheckName("name", req->name()); !s.ok()) return FinishNow(ctx, s);
  return RunUnary(ctx, deps_.executor, [this, req, resp]() -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(int64_t purged, deps_.store.PurgeQueue(req->name()));
    resp->set_purged_count(purged);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* QueueServiceImpl::Enqueue(grpc::CallbackServerContext* ctx,
                                                    const v1::EnqueueRequest* req,
                                                    v1::EnqueueResponse* resp) {
  auto messages = CheckNewMessages(req->queue(), req->messages(), req->producer_worker_id(),
                                   deps_.config.limits);
  if (!messages.ok()) return FinishNow(ctx, messages.status());
  auto* call = new UnaryCall(*ctx);
  int weight = static_cast<int>(messages->size());
  enqueues_.Add(absl::StrCat(req->producer_worker_id(), ":", req->queue()),
                {{call}, req, resp, std::move(*messages)}, weight);
  return call;
}

grpc::ServerUnaryReactor* QueueServiceImpl::Dequeue(grpc::CallbackServerContext* ctx,
                                                    const v1::DequeueRequest* req,
                                                    v1::DequeueResponse* resp) {
  auto options = CheckDequeue(*req, deps_.config.limits);
  if (!options.ok()) return FinishNow(ctx, options.status());
  // Without wait_ms the deadline is now: one try, no parking.
  return StartDequeue(ctx, deps_, req->queue(), *options,
                      absl::Now() + absl::Milliseconds(req->wait_ms()), resp, first_dequeues_);
}

grpc::ServerUnaryReactor* QueueServiceImpl::Ack(grpc::CallbackServerContext* ctx,
                                                const v1::AckRequest* req,
                                                v1::ReceiptResponse* resp) {
  auto leases = CheckReceipts(*req, deps_.config.limits);
  if (!leases.ok()) return FinishNow(ctx, leases.status());
  auto* call = new UnaryCall(*ctx);
  int weight = static_cast<int>(leases->size());
  acks_.Add(req->queue(), {{call}, req, resp, std::move(*leases)}, weight);
  return call;
}

grpc::ServerUnaryReactor* QueueServiceImpl::Delete(grpc::CallbackServerContext* ctx,
                                                   const v1::DeleteRequest* req,
                                                   v1::ReceiptResponse* resp) {
  auto leases = CheckReceipts(*req, deps_.config.limits);
  if (!leases.ok()) return FinishNow(ctx, leases.status());
  return RunUnary(ctx, deps_.executor, [this, req, resp, leases = std::move(*leases)] {
    return FillResults(deps_.store.Delete(req->queue(), leases), resp);
  });
}

grpc::ServerUnaryReactor* QueueServiceImpl::Nack(grpc::CallbackServerContext* ctx,
                                                 const v1::NackRequest* req,
                                                 v1::ReceiptResponse* resp) {
  auto leases = CheckReceipts(*req, deps_.config.limits);
  if (!leases.ok()) return FinishNow(ctx, leases.status());
  auto delay = CheckMillis("delay_ms", req->delay_ms(), deps_.config.limits.max_delay);
  if (!delay.ok()) return FinishNow(ctx, delay.status());
  return RunUnary(
      ctx, deps_.executor,
      [this, req, resp, delay = *delay, leases = std::move(*leases)]() -> absl::Status {
        PGQRS_RETURN_IF_ERROR(FillResults(deps_.store.Nack(req->queue(), leases, delay), resp));
        if (delay == absl::ZeroDuration()) {
          deps_.waiters.Notify(req->queue(), CountOk(*resp));
        }
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* QueueServiceImpl::ExtendVisibility(grpc::CallbackServerContext* ctx,
                                                             const v1::ExtendVisibilityRequest* req,
                                                             v1::ReceiptResponse* resp) {
  auto leases = CheckReceipts(*req, deps_.config.limits);
  if (!leases.ok()) return FinishNow(ctx, leases.status());
  auto timeout = CheckMillis("visibility_timeout_ms", req->visibility_timeout_ms(),
                             deps_.config.limits.max_visibility_timeout);
  if (!timeout.ok()) return FinishNow(ctx, timeout.status());
  return RunUnary(
      ctx, deps_.executor, [this, req, resp, timeout = *timeout, leases = std::move(*leases)] {
        return FillResults(deps_.store.ExtendVisibility(req->queue(), leases, timeout), resp);
      });
}

grpc::ServerUnaryReactor* QueueServiceImpl::GetMessages(grpc::CallbackServerContext* ctx,
                                                        const v1::GetMessagesRequest* req,
                                                        v1::GetMessagesResponse* resp) {
  absl::Status status = CheckName("queue", req->queue());
  if (status.ok()) status = CheckBatch("ids", req->ids_size(), deps_.config.limits.max_batch);
  if (!status.ok()) return FinishNow(ctx, status);
  return RunUnary(ctx, deps_.executor, [this, req, resp]() -> absl::Status {
    std::vector<int64_t> ids(req->ids().begin(), req->ids().end());
    PGQRS_ASSIGN_OR_RETURN(std::vector<storage::Message> found,
                           deps_.store.GetMessages(req->queue(), ids));
    for (const storage::Message& m : found) ToProto(m, resp->add_messages());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* QueueServiceImpl::ListDeadLetters(grpc::CallbackServerContext* ctx,
                                                            const v1::ListDeadLettersRequest* req,
                                                            v1::ListDeadLettersResponse* resp) {
  absl::Status status = CheckName("queue", req->queue());
  absl::StatusOr<int32_t> size =
      CheckPageSize(req->page_size(), kDefaultPageSize, deps_.config.limits.max_page_size);
  absl::StatusOr<std::string> token = DecodePageToken(req->page_token());
  int64_t after_id = 0;
  if (status.ok()) status = size.status();
  if (status.ok()) status = token.status();
  if (status.ok() && !token->empty() && !absl::SimpleAtoi(*token, &after_id)) {
    status = absl::InvalidArgumentError("page_token: malformed");
  }
  if (!status.ok()) return FinishNow(ctx, status);
  return RunUnary(ctx, deps_.executor, [this, req, resp, after_id, size = *size]() -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(std::vector<storage::Message> dead,
                           deps_.store.ListDeadLetters(req->queue(), after_id, size));
    for (const storage::Message& m : dead) ToProto(m, resp->add_messages());
    if (static_cast<int32_t>(dead.size()) == size) {
      resp->set_next_page_token(EncodePageToken(absl::StrCat(dead.back().id)));
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* QueueServiceImpl::Redrive(grpc::CallbackServerContext* ctx,
                                                    const v1::RedriveRequest* req,
                                                    v1::RedriveResponse* resp) {
  absl::Status status = CheckName("queue", req->queue());
  if (status.ok() && req->ids_size() > deps_.config.limits.max_batch) {
    status = CheckBatch("ids", req->ids_size(), deps_.config.limits.max_batch);
  }
  if (!status.ok()) return FinishNow(ctx, status);
  return RunUnary(ctx, deps_.executor, [this, req, resp]() -> absl::Status {
    std::vector<int64_t> ids(req->ids().begin(), req->ids().end());
    PGQRS_ASSIGN_OR_RETURN(int64_t moved, deps_.store.Redrive(req->queue(), ids));
    resp->set_redriven_count(moved);
    deps_.waiters.Notify(req->queue(), moved);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* QueueServiceImpl::QueueStats(grpc::CallbackServerContext* ctx,
                                                       const v1::QueueStatsRequest* req,
                                                       v1::QueueStats* resp) {
  if (absl::Status s = CheckName("queue", req->queue()); !s.ok()) return FinishNow(ctx, s);
  return RunUnary(ctx, deps_.executor, [this, req, resp]() -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(storage::QueueCounts counts, deps_.store.GetQueueCounts(req->queue()));
    ToProto(counts, resp);
    return absl::OkStatus();
  });
}

}  // namespace pgqrs::server
