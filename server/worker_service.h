// WorkerService: registration, heartbeats and the worker state machine (API.md).
#pragma once

#include "proto/pgqrs/v1/worker.grpc.pb.h"
#include "server/call.h"

namespace pgqrs::server {

class WorkerServiceImpl final : public v1::WorkerService::CallbackService {
 public:
  explicit WorkerServiceImpl(ServiceDeps deps) : deps_(deps) {}

  grpc::ServerUnaryReactor* RegisterWorker(grpc::CallbackServerContext* ctx,
                                           const v1::RegisterWorkerRequest* req,
                                           v1::Worker* resp) override;
  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext* ctx,
                                      const v1::HeartbeatRequest* req,
                                      v1::Worker* resp) override;
  grpc::ServerUnaryReactor* SuspendWorker(grpc::CallbackServerContext* ctx,
                                          const v1::WorkerIdRequest* req,
                                          v1::Worker* resp) override;
  grpc::ServerUnaryReactor* ResumeWorker(grpc::CallbackServerContext* ctx,
                                         const v1::WorkerIdRequest* req,
                                         v1::Worker* resp) override;
  grpc::ServerUnaryReactor* InterruptWorker(grpc::CallbackServerContext* ctx,
                                            const v1::WorkerIdRequest* req,
                                            v1::Worker* resp) override;
  grpc::ServerUnaryReactor* ShutdownWorker(grpc::CallbackServerContext* ctx,
                                           const v1::ShutdownWorkerRequest* req,
                                           v1::Worker* resp) override;
  grpc::ServerUnaryReactor* GetWorker(grpc::CallbackServerContext* ctx,
                                      const v1::WorkerIdRequest* req,
                                      v1::Worker* resp) override;
  grpc::ServerUnaryReactor* ListWorkers(grpc::CallbackServerContext* ctx,
                                        const v1::ListWorkersRequest* req,
                                        v1::ListWorkersResponse* resp) override;

 private:
  grpc::ServerUnaryReactor* Move(grpc::CallbackServerContext* ctx, int64_t worker_id,
                                 storage::WorkerMove move, v1::Worker* resp);

  ServiceDeps deps_;
};

}  // namespace pgqrs::server
