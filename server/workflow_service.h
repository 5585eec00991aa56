// WorkflowService: durable workflows (API.md). Thin like the others: validate on the
// gRPC thread, call the Store on the executor, map errors. It also wakes parked calls:
// ClaimRun parks on the workflow's queue (woken by StartRun and by the reapers, like
// Dequeue), WaitRun parks on "run:<id>" (woken by every terminal transition).
#pragma once

#include <functional>
#include <string>

#include "proto/pgqrs/v1/workflow.grpc.pb.h"
#include "server/call.h"

namespace pgqrs::server {

// The WaiterRegistry key WaitRun parks on. Queue names cannot contain ':'.
std::string RunWaitKey(int64_t run_id);

class WorkflowServiceImpl final : public v1::WorkflowService::CallbackService {
 public:
  explicit WorkflowServiceImpl(ServiceDeps deps) : deps_(deps) {}

  grpc::ServerUnaryReactor* CreateWorkflow(grpc::CallbackServerContext* ctx,
                                           const v1::CreateWorkflowRequest* req,
                                           v1::Workflow* resp) override;
  grpc::ServerUnaryReactor* ListWorkflows(grpc::CallbackServerContext* ctx,
                                          const v1::ListWorkflowsRequest* req,
                                          v1::ListWorkflowsResponse* resp) override;
  grpc::ServerUnaryReactor* StartRun(grpc::CallbackServerContext* ctx,
                                     const v1::StartRunRequest* req, v1::Run* resp) override;
  grpc::ServerUnaryReactor* ClaimRun(grpc::CallbackServerContext* ctx,
                                     const v1::ClaimRunRequest* req,
                                     v1::ClaimRunResponse* resp) override;
  grpc::ServerUnaryReactor* BeginStep(grpc::CallbackServerContext* ctx,
                                      const v1::BeginStepRequest* req,
                                      v1::BeginStepResponse* resp) override;
  grpc::ServerUnaryReactor* CompleteStep(grpc::CallbackServerContext* ctx,
                                         const v1::CompleteStepRequest* req,
                                         v1::Step* resp) override;
  grpc::ServerUnaryReactor* FailStep(grpc::CallbackServerContext* ctx,
                                     const v1::FailStepRequest* req, v1::Step* resp) override;
  grpc::ServerUnaryReactor* CompleteRun(grpc::CallbackServerContext* ctx,
                                        const v1::CompleteRunRequest* req, v1::Run* resp) override;
  grpc::ServerUnaryReactor* FailRun(grpc::CallbackServerContext* ctx, const v1::FailRunRequest* req,
                                    v1::Run* resp) override;
  grpc::ServerUnaryReactor* ExtendRunLease(grpc::CallbackServerContext* ctx,
                                           const v1::ExtendRunLeaseRequest* req,
                                           v1::Run* resp) override;
  grpc::ServerUnaryReactor* PauseRun(grpc::CallbackServerContext* ctx,
                                     const v1::PauseRunRequest* req, v1::Run* resp) override;
  grpc::ServerUnaryReactor* CancelRun(grpc::CallbackServerContext* ctx,
                                      const v1::CancelRunRequest* req, v1::Run* resp) override;
  grpc::ServerUnaryReactor* GetRun(grpc::CallbackServerContext* ctx, const v1::GetRunRequest* req,
                                   v1::Run* resp) override;
  grpc::ServerUnaryReactor* WaitRun(grpc::CallbackServerContext* ctx, const v1::WaitRunRequest* req,
                                    v1::Run* resp) override;
  grpc::ServerUnaryReactor* ListRuns(grpc::CallbackServerContext* ctx,
                                     const v1::ListRunsRequest* req,
                                     v1::ListRunsResponse* resp) override;
  grpc::ServerUnaryReactor* ListSteps(grpc::CallbackServerContext* ctx,
                                      const v1::ListStepsRequest* req,
                                      v1::ListStepsResponse* resp) override;

 private:
  // Wakes WaitRun callers of `run_id` when `status` says the run just became terminal
  // by cancellation (a lease-holder write to a cancelled run).
  void WakeIfCancelled(int64_t run_id, const absl::Status& status);
  // CompleteStep, FailStep, PauseRun and ExtendRunLease, once their input is checked: on the
  // executor, the owner check, then `call` (the store call under `lease`); a run the call
  // found cancelled wakes its WaitRun callers. `resp` gets the result.
  template <typename Result, typename Proto>
  grpc::ServerUnaryReactor* UnderLease(grpc::CallbackServerContext* ctx,
                                       const storage::RunLease& lease, Proto* resp,
                                       std::function<absl::StatusOr<Result>()> call);
  // CompleteRun and FailRun: `end` finishes the run under `lease` (JSON already checked);
  // WaitRun callers are woken whatever the outcome.
  grpc::ServerUnaryReactor* EndRun(
      grpc::CallbackServerContext* ctx, const storage::RunLease& lease, v1::Run* resp,
      std::function<absl::StatusOr<storage::RunInfo>(const storage::RunLease&)> end);

  ServiceDeps deps_;
};

}  // namespace pgqrs::server
