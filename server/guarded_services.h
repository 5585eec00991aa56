// The services as gRPC sees them: each method asks the CallGuard first and only then hands
// the call to the real service (queue_service.h, ...). A method not overridden here
// answers UNIMPLEMENTED, so a new RPC stays closed until it is guarded.
#pragma once

#include "server/admin_service.h"
#include "server/call.h"
#include "server/call_guard.h"
#include "server/queue_service.h"
#include "server/status.h"
#include "server/worker_service.h"
#include "server/workflow_service.h"

namespace pgqrs::server {

// Overrides Method to check the guard, then delegate to inner_.
#define PGQRS_GUARDED_METHOD(Service, Method, Request, Response)                                  \
  grpc::ServerUnaryReactor* Method(grpc::CallbackServerContext* context,                          \
                                   const v1::Request* request, v1::Response* response) override { \
    absl::Status allowed = guard_.Check(context, "/pgqrs.v1." #Service "/" #Method, *request);    \
    if (!allowed.ok()) return FinishNow(context, allowed);                                        \
    return inner_.Method(context, request, response);                                             \
  }

// Overrides the stream Method to check the guard when it opens, then hand the stream and a
// per-message check to inner_.StartMethod.
#define PGQRS_GUARDED_STREAM(Service, Method, Request, Response)                                   \
  grpc::ServerBidiReactor<v1::Request, v1::Response>* Method(grpc::CallbackServerContext* context) \
      override {                                                                                   \
    static constexpr char kName[] = "/pgqrs.v1." #Service "/" #Method;                             \
    absl::Status allowed = guard_.CheckStreamOpen(context, kName);                                 \
    if (!allowed.ok()) {                                                                           \
      return new RefusedStream<v1::Request, v1::Response>(ToGrpcStatus(allowed));                  \
    }                                                                                              \
    return inner_.Start##Method(context, [this, context](const google::protobuf::Message& m) {     \
      return guard_.CheckStreamMessage(context, kName, m);                                         \
    });                                                                                            \
  }

class GuardedQueueService final : public v1::QueueService::CallbackService {
 public:
  GuardedQueueService(CallGuard& guard, QueueServiceImpl& inner) : guard_(guard), inner_(inner) {}
  PGQRS_GUARDED_METHOD(QueueService, CreateQueue, CreateQueueRequest, Queue)
  PGQRS_GUARDED_METHOD(QueueService, GetQueue, GetQueueRequest, Queue)
  PGQRS_GUARDED_METHOD(QueueService, ListQueues, ListQueuesRequest, ListQueuesResponse)
  PGQRS_GUARDED_METHOD(QueueService, DeleteQueue, DeleteQueueRequest, DeleteQueueResponse)
  PGQRS_GUARDED_METHOD(QueueService, PurgeQueue, PurgeQueueRequest, PurgeQueueResponse)
  PGQRS_GUARDED_METHOD(QueueService, Enqueue, EnqueueRequest, EnqueueResponse)
  PGQRS_GUARDED_METHOD(QueueService, Dequeue, DequeueRequest, DequeueResponse)
  PGQRS_GUARDED_METHOD(QueueService, Ack, AckRequest, ReceiptResponse)
  PGQRS_GUARDED_METHOD(QueueService, Delete, DeleteRequest, ReceiptResponse)
  PGQRS_GUARDED_METHOD(QueueService, Nack, NackRequest, ReceiptResponse)
  PGQRS_GUARDED_METHOD(QueueService, ExtendVisibility, ExtendVisibilityRequest, ReceiptResponse)
  PGQRS_GUARDED_METHOD(QueueService, GetMessages, GetMessagesRequest, GetMessagesResponse)
  PGQRS_GUARDED_METHOD(QueueService, ListDeadLetters, ListDeadLettersRequest,
                       ListDeadLettersResponse)
  PGQRS_GUARDED_METHOD(QueueService, Redrive, RedriveRequest, RedriveResponse)
  PGQRS_GUARDED_METHOD(QueueService, QueueStats, QueueStatsRequest, QueueStats)
  PGQRS_GUARDED_STREAM(QueueService, Publish, PublishRequest, PublishResponse)
  PGQRS_GUARDED_STREAM(QueueService, Consume, ConsumeRequest, ConsumeResponse)
 private:
  CallGuard& guard_;
  QueueServiceImpl& inner_;
};

class GuardedWorkerService final : public v1::WorkerService::CallbackService {
 public:
  GuardedWorkerService(CallGuard& guard, WorkerServiceImpl& inner) : guard_(guard), inner_(inner) {}
  PGQRS_GUARDED_METHOD(WorkerService, RegisterWorker, RegisterWorkerRequest, Worker)
  PGQRS_GUARDED_METHOD(WorkerService, Heartbeat, HeartbeatRequest, Worker)
  PGQRS_GUARDED_METHOD(WorkerService, SuspendWorker, WorkerIdRequest, Worker)
  PGQRS_GUARDED_METHOD(WorkerService, ResumeWorker, WorkerIdRequest, Worker)
  PGQRS_GUARDED_METHOD(WorkerService, InterruptWorker, WorkerIdRequest, Worker)
  PGQRS_GUARDED_METHOD(WorkerService, ShutdownWorker, ShutdownWorkerRequest, Worker)
  PGQRS_GUARDED_METHOD(WorkerService, GetWorker, WorkerIdRequest, Worker)
  PGQRS_GUARDED_METHOD(WorkerService, ListWorkers, ListWorkersRequest, ListWorkersResponse)
 private:
  CallGuard& guard_;
  WorkerServiceImpl& inner_;
};

class GuardedAdminService final : public v1::AdminService::CallbackService {
 public:
  GuardedAdminService(CallGuard& guard, AdminServiceImpl& inner) : guard_(guard), inner_(inner) {}
  PGQRS_GUARDED_METHOD(AdminService, Migrate, MigrateRequest, MigrateResponse)
  PGQRS_GUARDED_METHOD(AdminService, Verify, VerifyRequest, VerifyResponse)
  PGQRS_GUARDED_METHOD(AdminService, SystemStats, SystemStatsRequest, SystemStatsResponse)
  PGQRS_GUARDED_METHOD(AdminService, ReclaimWorkers, ReclaimWorkersRequest, ReclaimWorkersResponse)
  PGQRS_GUARDED_METHOD(AdminService, GetServerInfo, GetServerInfoRequest, ServerInfo)
 private:
  CallGuard& guard_;
  AdminServiceImpl& inner_;
};

class GuardedWorkflowService final : public v1::WorkflowService::CallbackService {
 public:
  GuardedWorkflowService(CallGuard& guard, WorkflowServiceImpl& inner)
      : guard_(guard), inner_(inner) {}
  PGQRS_GUARDED_METHOD(WorkflowService, CreateWorkflow, CreateWorkflowRequest, Workflow)
  PGQRS_GUARDED_METHOD(WorkflowService, StartRun, StartRunRequest, Run)
  PGQRS_GUARDED_METHOD(WorkflowService, ClaimRun, ClaimRunRequest, ClaimRunResponse)
  PGQRS_GUARDED_METHOD(WorkflowService, BeginStep, BeginStepRequest, BeginStepResponse)
  PGQRS_GUARDED_METHOD(WorkflowService, CompleteStep, CompleteStepRequest, Step)
  PGQRS_GUARDED_METHOD(WorkflowService, FailStep, FailStepRequest, Step)
  PGQRS_GUARDED_METHOD(WorkflowService, CompleteRun, CompleteRunRequest, Run)
  PGQRS_GUARDED_METHOD(WorkflowService, FailRun, FailRunRequest, Run)
  PGQRS_GUARDED_METHOD(WorkflowService, PauseRun, PauseRunRequest, Run)
  PGQRS_GUARDED_METHOD(WorkflowService, ExtendRunLease, ExtendRunLeaseRequest, Run)
  PGQRS_GUARDED_METHOD(WorkflowService, CancelRun, CancelRunRequest, Run)
  PGQRS_GUARDED_METHOD(WorkflowService, GetRun, GetRunRequest, Run)
  PGQRS_GUARDED_METHOD(WorkflowService, WaitRun, WaitRunRequest, Run)
  PGQRS_GUARDED_METHOD(WorkflowService, ListRuns, ListRunsRequest, ListRunsResponse)
  PGQRS_GUARDED_METHOD(WorkflowService, ListSteps, ListStepsRequest, ListStepsResponse)
  PGQRS_GUARDED_METHOD(WorkflowService, ListWorkflows, ListWorkflowsRequest, ListWorkflowsResponse)
 private:
  CallGuard& guard_;
  WorkflowServiceImpl& inner_;
};

#undef PGQRS_GUARDED_METHOD
#undef PGQRS_GUARDED_STREAM

}  // namespace pgqrs::server
