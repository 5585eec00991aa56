// QueueService: queues and messages (API.md). Thin: validate, call the Store on the
// executor, map errors, wake long-polls after commits that make messages visible.
#pragma once

#include "proto/pgqrs/v1/queue.grpc.pb.h"
#include "server/call.h"
#include "server/call_groups.h"
#include "server/consume_stream.h"
#include "server/long_poll.h"
#include "server/publish_stream.h"

namespace pgqrs::server {

// One Enqueue call's work, stored together with concurrent ones (CallGroups).
struct EnqueueCall : GroupedUnary {
  const v1::EnqueueRequest* request;
  v1::EnqueueResponse* response;
  std::vector<storage::NewMessage> messages;
};

// One Ack call's work, stored together with concurrent ones (CallGroups).
struct AckCall : GroupedUnary {
  const v1::AckRequest* request;
  v1::ReceiptResponse* response;
  std::vector<storage::Lease> leases;
};

class QueueServiceImpl final : public v1::QueueService::CallbackService {
 public:
  explicit QueueServiceImpl(ServiceDeps deps);

  grpc::ServerUnaryReactor* CreateQueue(grpc::CallbackServerContext* ctx,
                                        const v1::CreateQueueRequest* req,
                                        v1::Queue* resp) override;
  grpc::ServerUnaryReactor* GetQueue(grpc::CallbackServerContext* ctx,
                                     const v1::GetQueueRequest* req, v1::Queue* resp) override;
  grpc::ServerUnaryReactor* ListQueues(grpc::CallbackServerContext* ctx,
                                       const v1::ListQueuesRequest* req,
                                       v1::ListQueuesResponse* resp) override;
  grpc::ServerUnaryReactor* DeleteQueue(grpc::CallbackServerContext* ctx,
                                        const v1::DeleteQueueRequest* req,
                                        v1::DeleteQueueResponse* resp) override;
  grpc::ServerUnaryReactor* PurgeQueue(grpc::CallbackServerContext* ctx,
                                       const v1::PurgeQueueRequest* req,
                                       v1::PurgeQueueResponse* resp) override;
  grpc::ServerUnaryReactor* Enqueue(grpc::CallbackServerContext* ctx, const v1::EnqueueRequest* req,
                                    v1::EnqueueResponse* resp) override;
  grpc::ServerUnaryReactor* Dequeue(grpc::CallbackServerContext* ctx, const v1::DequeueRequest* req,
                                    v1::DequeueResponse* resp) override;
  grpc::ServerUnaryReactor* Ack(grpc::CallbackServerContext* ctx, const v1::AckRequest* req,
                                v1::ReceiptResponse* resp) override;
  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* ctx, const v1::DeleteRequest* req,
                                   v1::ReceiptResponse* resp) override;
  grpc::ServerUnaryReactor* Nack(grpc::CallbackServerContext* ctx, const v1::NackRequest* req,
                                 v1::ReceiptResponse* resp) override;
  grpc::ServerUnaryReactor* ExtendVisibility(grpc::CallbackServerContext* ctx,
                                             const v1::ExtendVisibilityRequest* req,
                                             v1::ReceiptResponse* resp) override;
  grpc::ServerUnaryReactor* GetMessages(grpc::CallbackServerContext* ctx,
                                        const v1::GetMessagesRequest* req,
                                        v1::GetMessagesResponse* resp) override;
  grpc::ServerUnaryReactor* ListDeadLetters(grpc::CallbackServerContext* ctx,
                                            const v1::ListDeadLettersRequest* req,
                                            v1::ListDeadLettersResponse* resp) override;
  grpc::ServerUnaryReactor* Redrive(grpc::CallbackServerContext* ctx, const v1::RedriveRequest* req,
                                    v1::RedriveResponse* resp) override;
  // The streams; the guard passes each a check of the queues its messages name.
  grpc::ServerBidiReactor<v1::PublishRequest, v1::PublishResponse>* StartPublish(
      grpc::CallbackServerContext* ctx, MessageCheck check) {
    return StartPublishStream(ctx, deps_, std::move(check));
  }
  grpc::ServerBidiReactor<v1::ConsumeRequest, v1::ConsumeResponse>* StartConsume(
      grpc::CallbackServerContext* ctx, MessageCheck check) {
    return StartConsumeStream(ctx, deps_, std::move(check));
  }

  grpc::ServerUnaryReactor* QueueStats(grpc::CallbackServerContext* ctx,
                                       const v1::QueueStatsRequest* req,
                                       v1::QueueStats* resp) override;

  // Enqueue, Ack and first-try Dequeue calls waiting to join their group's store call.
  size_t grouped_calls_waiting() const {
    return enqueues_.waiting() + acks_.waiting() + first_dequeues_.waiting();
  }

 private:
  ServiceDeps deps_;
  // Enqueues of one queue and producer, and acks of one queue, that arrive while an
  // earlier one runs share the next store call.
  CallGroups<EnqueueCall> enqueues_;
  CallGroups<AckCall> acks_;
  // The first tries of Dequeues of one queue with the same options likewise (a try that
  // leases nothing parks its call, which then tries alone: long_poll.h).
  CallGroups<DequeueTry> first_dequeues_;
};

}  // namespace pgqrs::server
