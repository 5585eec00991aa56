#include "server/workflow_service.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "server/convert.h"
#include "server/long_poll.h"
#include "server/receipt.h"
#include "server/validation.h"
#include "storage/checks.h"

namespace pgqrs::server {
namespace {

constexpr int32_t kMaxAttempts = 1000;
constexpr absl::Duration kMaxBackoff = absl::Hours(24);

absl::Status CheckRunId(int64_t id) {
  if (id > 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("run_id: ", id, " is not a run id"));
}

absl::StatusOr<storage::RunLease> CheckRunLease(int64_t run_id, const std::string& receipt) {
  PGQRS_RETURN_IF_ERROR(CheckRunId(run_id));
  PGQRS_ASSIGN_OR_RETURN(storage::Lease lease, DecodeReceipt("receipt", receipt));
  return storage::RunLease{run_id, lease};
}

// An empty JSON field means JSON null; anything else must parse.
absl::StatusOr<std::string> JsonField(const std::string& field, const std::string& text,
                                      const Limits& limits) {
  if (text.empty()) return std::string("null");
  PGQRS_RETURN_IF_ERROR(CheckJson(field, text, limits.max_payload_bytes));
  return text;
}

absl::StatusOr<storage::RetryPolicy> CheckRetryPolicy(const v1::CreateWorkflowRequest& req) {
  storage::RetryPolicy policy;
  if (!req.has_retry_policy()) return policy;
  const v1::RetryPolicy& p = req.retry_policy();
  if (p.max_attempts() < 0 || p.max_attempts() > kMaxAttempts) {
    return absl::InvalidArgumentError(
        absl::StrCat("retry_policy.max_attempts: must be 1 to ", kMaxAttempts, " (0 = default 3)"));
  }
  if (p.max_attempts() > 0) policy.max_attempts = p.max_attempts();
  if (p.base_backoff_ms() != 0) {
    PGQRS_ASSIGN_OR_RETURN(policy.base_backoff, CheckMillis("retry_policy.base_backoff_ms",
                                                            p.base_backoff_ms(), kMaxBackoff));
  }
  if (p.max_backoff_ms() != 0) {
    PGQRS_ASSIGN_OR_RETURN(policy.max_backoff, CheckMillis("retry_policy.max_backoff_ms",
                                                           p.max_backoff_ms(), kMaxBackoff));
    if (policy.max_backoff < policy.base_backoff) {
      return absl::InvalidArgumentError(
          "retry_policy.max_backoff_ms: must not be less than base_backoff_ms");
    }
  } else {
    policy.max_backoff = std::max(policy.max_backoff, policy.base_backoff);
  }
  if (!(p.jitter() >= 0.0 && p.jitter() <= 1.0)) {
    return absl::InvalidArgumentError("retry_policy.jitter: must be 0 to 1");
  }
  policy.jitter = p.jitter();
  return policy;
}

absl::StatusOr<storage::NewRun> CheckStartRun(const v1::StartRunRequest& req,
                                              const Limits& limits) {
  PGQRS_RETURN_IF_ERROR(CheckName("workflow", req.workflow()));
  PGQRS_ASSIGN_OR_RETURN(std::string input, JsonField("input_json", req.input_json(), limits));
  if (req.idempotency_key().size() > storage::kMaxIdempotencyKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("idempotency_key: longer than ", storage::kMaxIdempotencyKeyBytes, " bytes"));
  }
  PGQRS_RETURN_IF_ERROR(storage::CheckText("idempotency_key", req.idempotency_key()));
  return storage::NewRun{req.workflow(), std::move(input), req.idempotency_key()};
}

absl::StatusOr<storage::ClaimOptions> CheckClaim(const v1::ClaimRunRequest& req,
                                                 const Limits& limits) {
  PGQRS_RETURN_IF_ERROR(CheckName("workflow", req.workflow()));
  storage::ClaimOptions options;
  if (req.worker_id() < 0) return absl::InvalidArgumentError("worker_id: must not be negative");
  options.worker_id = req.worker_id();
  if (req.visibility_timeout_ms() != 0) {
    PGQRS_ASSIGN_OR_RETURN(options.visibility_timeout,
                           CheckMillis("visibility_timeout_ms", req.visibility_timeout_ms(),
                                       limits.max_visibility_timeout));
  }
  PGQRS_RETURN_IF_ERROR(CheckMillis("wait_ms", req.wait_ms(), limits.max_wait).status());
  return options;
}

}  // namespace

std::string RunWaitKey(int64_t run_id) { return absl::StrCat("run:", run_id); }

void WorkflowServiceImpl::WakeIfCancelled(int64_t run_id, const absl::Status& status) {
  if (absl::IsCancelled(status)) deps_.waiters.NotifyAll(RunWaitKey(run_id));
}

grpc::ServerUnaryReactor* WorkflowServiceImpl::CreateWorkflow(grpc::CallbackServerContext* ctx,
                                                              const v1::CreateWorkflowRequest* req,
                                                              v1::Workflow* resp) {
  if (absl::Status s = CheckName("name", req->name()); !s.ok()) return FinishNow(ctx, s);
  absl::StatusOr<storage::RetryPolicy> policy = CheckRetryPolicy(*req);
  if (!policy.ok()) return FinishNow(ctx, policy.status());
  storage::WorkflowOptions options{req->name(), *policy, req->if_not_exists()};
  return RunUnary(ctx, deps_.executor, [this, options, resp]() -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(storage::WorkflowInfo info, deps_.store.CreateWorkflow(options));
    ToProto(info, resp);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* WorkflowServiceImpl::ListWorkflows(grpc::CallbackServerContext* ctx,
                                                             const v1::ListWorkflowsRequest* req,
                                                             v1::ListWorkflowsResponse* resp) {
  absl::StatusOr<int32_t> size =
      CheckPageSize(req->page_size(), kDefaultPageSize, deps_.config.limits.max_page_size);
  if (!size.ok()) return FinishNow(ctx, size.status());
  absl::StatusOr<std::string> after = DecodePageToken(req->page_token());
  if (!after.ok()) return FinishNow(ctx, after.status());
  return RunUnary(ctx, deps_.executor,
                  [this, size = *size, after = *after, resp]() -> absl::Status {
                    PGQRS_ASSIGN_OR_RETURN(std::vector<storage::WorkflowInfo> workflows,
                                           deps_.store.ListWorkflows(after, size));
                    for (const storage::WorkflowInfo& w : workflows)
                      ToProto(w, resp->add_workflows());
                    if (static_cast<int32_t>(workflows.size()) == size) {
                      resp->set_next_page_token(EncodePageToken(workflows.back().name));
                    }
                    return absl::OkStatus();
                  });
}

grpc::ServerUnaryReactor* WorkflowServiceImpl::StartRun(grpc::CallbackServerContext* ctx,
                                                        const v1::StartRunRequest* req,
                                                        v1::Run* resp) {
  absl::StatusOr<storage::NewRun> run = CheckStartRun(*req, deps_.config.limits);
  if (!run.ok()) return FinishNow(ctx, run.status());
  return RunUnary(ctx, deps_.executor, [this, run = std::move(*run), resp]() -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(storage::StartRunResult started, deps_.store.StartRun(run));
    ToProto(started.run, resp);
    resp->set_created(started.created);
    if (started.created) deps_.waiters.Notify(run.workflow, 1);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* WorkflowServiceImpl::ClaimRun(grpc::CallbackServerContext* ctx,
                                                        const v1::ClaimRunRequest* req,
                                                        v1::ClaimRunResponse* resp) {
  absl::StatusOr<storage::ClaimOptions> options = CheckClaim(*req, deps_.config.limits);
  if (!options.ok()) return FinishNow(ctx, options.status());
  auto taken = std::make_shared<storage::Lease>();
  auto attempt = [this, req, resp, options = *options, taken]() -> absl::StatusOr<bool> {
    PGQRS_ASSIGN_OR_RETURN(storage::ClaimResult claimed,
                           deps_.store.ClaimRun(req->workflow(), options));
    for (int64_t id : claimed.cancelled) deps_.waiters.NotifyAll(RunWaitKey(id));
    if (!claimed.run) return false;
    ToProto(*claimed.run, resp->mutable_run());
    resp->set_receipt(EncodeReceipt(claimed.lease));
    *taken = claimed.lease;
    return true;
  };
  // An undelivered claim ends its lease at once; the run is claimable again.
  auto give_back = [this, workflow = req->workflow(), taken] {
    std::vector<storage::Lease> leases = {*taken};
    if (deps_.store.ReturnLeases(workflow, leases).ok()) deps_.waiters.Notify(workflow, 1);
  };
  return StartParkedCall(ctx, deps_, req->workflow(),
                         absl::Now() + absl::Milliseconds(req->wait_ms()), std::move(attempt),
                         std::move(give_back));
}

grpc::ServerUnaryReactor* WorkflowServiceImpl::BeginStep(grpc::CallbackServerContext* ctx,
                                                         const v1::BeginStepRequest* req,
                                                         v1::BeginStepResponse* resp) {
  absl::StatusOr<storage::RunLease> lease = CheckRunLease(req->run_id(), req->receipt());
  absl::Status name = storage::CheckStepName(req->step_name());
  if (!lease.ok()) return FinishNow(ctx, lease.status());
  if (!name.ok()) return FinishNow(ctx, name);
  return RunUnary(ctx, deps_.executor, [this, ctx, req, resp, lease = *lease]() -> absl::Status {
    PGQRS_RETURN_IF_ERROR(deps_.owners.Run(*ctx, lease.run_id));
    PGQRS_ASSIGN_OR_RETURN(storage::BeginStepResult begun,
                           deps_.store.BeginStep(lease, req->step_name()));
    resp->set_outcome(static_cast<v1::StepOutcome>(begun.outcome));
    if (begun.outcome == storage::StepOutcome::kCancelled) {
      deps_.waiters.NotifyAll(RunWaitKey(lease.run_id));
      return absl::OkStatus();
    }
    if (begun.outcome == storage::StepOutcome::kCompleted) {
      resp->set_output_json(begun.step.output_json);
    }
    if (begun.outcome == storage::StepOutcome::kNotReady && begun.step.retry_at) {
      SetTimestamp(*begun.step.retry_at, resp->mutable_retry_at());
    }
    ToProto(begun.step, resp->mutable_step());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* WorkflowServiceImpl::CompleteStep(grpc::CallbackServerContext* ctx,
                                                            const v1::CompleteStepRequest* req,
                                                            v1::Step* resp) {
  absl::StatusOr<storage::RunLease> lease = CheckRunLease(req->run_id(), req->receipt());
  if (!lease.ok()) return FinishNow(ctx, lease.status());
  absl::Status name = storage::CheckStepName(req->step_name());
  if (!name.ok()) return FinishNow(ctx, name);
  absl::StatusOr<std::string> output =
      JsonField("output_json", req->output_json(), deps_.config.limits);
  if (!output.ok()) return FinishNow(ctx, output.status());
  return UnderLease<storage::StepInfo>(
      ctx, *lease, resp, [this, req, lease = *lease, output = *output] {
        return deps_.store.CompleteStep(lease, req->step_name(), output);
      });
}

grpc::ServerUnaryReactor* WorkflowServiceImpl::FailStep(grpc::CallbackServerContext* ctx,
                                                        const v1::FailStepRequest* req,
                                                        v1::Step* resp) {
  absl::StatusOr<storage::RunLease> lease = CheckRunLease(req->run_id(), req->receipt());
  if (!lease.ok()) return FinishNow(ctx, lease.status());
  absl::Status name = storage::CheckStepName(req->step_name());
  if (!name.ok()) return FinishNow(ctx, name);
  absl::StatusOr<std::string> error =
      JsonField("error_json", req->error_json(), deps_.config.limits);
  if (!error.ok()) return FinishNow(ctx, error.status());
  storage::StepFailure failure{*error, req->transient(), std::nullopt};
  if (req->retry_after_ms() != 0) {
    absl::StatusOr<absl::Duration> after =
        CheckMillis("retry_after_ms", req->retry_after_ms(), deps_.config.limits.max_delay);
    if (!after.ok()) return FinishNow(ctx, after.status());
    failure.retry_after = *after;
  }
  return UnderLease<storage::StepInfo>(ctx, *lease, resp, [this, req, lease = *lease, failure] {
    return deps_.store.FailStep(lease, req->step_name(), failure);
  });
}

grpc::ServerUnaryReactor* WorkflowServiceImpl::CompleteRun(grpc::CallbackServerContext* ctx,
                                                           const v1::CompleteRunRequest* req,
                                                           v1::Run* resp) {
  absl::StatusOr<storage::RunLease> lease = CheckRunLease(req->run_id(), req->receipt());
  if (!lease.ok()) return FinishNow(ctx, lease.status());
  absl::StatusOr<std::string> output =
      JsonField("output_json", req->output_json(), deps_.config.limits);
  if (!output.ok()) return FinishNow(ctx, output.status());
  return EndRun(ctx, *lease, resp, [this, output = *output](const storage::RunLease& l) {
    return deps_.store.CompleteRun(l, output);
  });
}

grpc::ServerUnaryReactor* WorkflowServiceImpl::FailRun(grpc::CallbackServerContext* ctx,
                                                       const v1::FailRunRequest* req,
                                                       v1::Run* resp) {
  absl::StatusOr<storage::RunLease> lease = CheckRunLease(req->run_id(), req->receipt());
  if (!lease.ok()) return FinishNow(ctx, lease.status());
  absl::StatusOr<std::string> error =
      JsonField("error_json", req->error_json(), deps_.config.limits);
  if (!error.ok()) return FinishNow(ctx, error.status());
  return EndRun(ctx, *lease, resp, [this, error = *error](const storage::RunLease& l) {
    return deps_.store.FailRun(l, error);
  });
}

template <typename Result, typename Proto>
grpc::ServerUnaryReactor* WorkflowServiceImpl::UnderLease(
    grpc::CallbackServerContext* ctx, const storage::RunLease& lease, Proto* resp,
    std::function<absl::StatusOr<Result>()> call) {
  return RunUnary(ctx, deps_.executor,
                  [this, ctx, resp, lease, call = std::move(call)]() -> absl::Status {
                    PGQRS_RETURN_IF_ERROR(deps_.owners.Run(*ctx, lease.run_id));
                    absl::StatusOr<Result> result = call();
                    WakeIfCancelled(lease.run_id, result.status());
                    if (!result.ok()) return result.status();
                    ToProto(*result, resp);
                    return absl::OkStatus();
                  });
}

grpc::ServerUnaryReactor* WorkflowServiceImpl::EndRun(
    grpc::CallbackServerContext* ctx, const storage::RunLease& lease, v1::Run* resp,
    std::function<absl::StatusOr<storage::RunInfo>(const storage::RunLease&)> end) {
  return RunUnary(ctx, deps_.executor,
                  [this, ctx, resp, lease, end = std::move(end)]() -> absl::Status {
                    PGQRS_RETURN_IF_ERROR(deps_.owners.Run(*ctx, lease.run_id));
                    absl::StatusOr<storage::RunInfo> run = end(lease);
                    deps_.waiters.NotifyAll(RunWaitKey(lease.run_id));
                    if (!run.ok()) return run.status();
                    ToProto(*run, resp);
                    return absl::OkStatus();
                  });
}

grpc::ServerUnaryReactor* WorkflowServiceImpl::PauseRun(grpc::CallbackServerContext* ctx,
                                                        const v1::PauseRunRequest* req,
                                                        v1::Run* resp) {
  absl::StatusOr<storage::RunLease> lease = CheckRunLease(req->run_id(), req->receipt());
  if (!lease.ok()) return FinishNow(ctx, lease.status());
  absl::StatusOr<absl::Duration> after =
      CheckMillis("resume_after_ms", req->resume_after_ms(), deps_.config.limits.max_delay);
  if (!after.ok()) return FinishNow(ctx, after.status());
  return UnderLease<storage::RunInfo>(ctx, *lease, resp, [this, lease = *lease, after = *after] {
    absl::StatusOr<storage::RunInfo> run = deps_.store.PauseRun(lease, after);
    // A zero pause makes the run claimable at once.
    if (run.ok() && after == absl::ZeroDuration()) deps_.waiters.Notify(run->workflow, 1);
    return run;
  });
}

grpc::ServerUnaryReactor* WorkflowServiceImpl::ExtendRunLease(grpc::CallbackServerContext* ctx,
                                                              const v1::ExtendRunLeaseRequest* req,
                                                              v1::Run* resp) {
  absl::StatusOr<storage::RunLease> lease = CheckRunLease(req->run_id(), req->receipt());
  if (!lease.ok()) return FinishNow(ctx, lease.status());
  absl::StatusOr<absl::Duration> timeout =
      CheckMillis("visibility_timeout_ms", req->visibility_timeout_ms(),
                  deps_.config.limits.max_visibility_timeout);
  if (timeout.ok() && *timeout == absl::ZeroDuration()) {
    timeout = absl::InvalidArgumentError("visibility_timeout_ms: must be positive");
  }
  if (!timeout.ok()) return FinishNow(ctx, timeout.status());
  return UnderLease<storage::RunInfo>(ctx, *lease, resp,
                                      [this, lease = *lease, timeout = *timeout] {
                                        return deps_.store.ExtendRunLease(lease, timeout);
                                      });
}

grpc::ServerUnaryReactor* WorkflowServiceImpl::CancelRun(grpc::CallbackServerContext* ctx,
                                                         const v1::CancelRunRequest* req,
                                                         v1::Run* resp) {
  if (absl::Status s = CheckRunId(req->run_id()); !s.ok()) return FinishNow(ctx, s);
  return RunUnary(ctx, deps_.executor, [this, ctx, req, resp]() -> absl::Status {
    PGQRS_RETURN_IF_ERROR(deps_.owners.Run(*ctx, req->run_id()));
    PGQRS_ASSIGN_OR_RETURN(storage::RunInfo run, deps_.store.CancelRun(req->run_id()));
    if (storage::IsTerminal(run.status)) deps_.waiters.NotifyAll(RunWaitKey(run.id));
    ToProto(run, resp);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* WorkflowServiceImpl::GetRun(grpc::CallbackServerContext* ctx,
                                                      const v1::GetRunRequest* req, v1::Run* resp) {
  if (absl::Status s = CheckRunId(req->run_id()); !s.ok()) return FinishNow(ctx, s);
  return RunUnary(ctx, deps_.executor, [this, ctx, req, resp]() -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(storage::RunInfo run, deps_.store.GetRun(req->run_id()));
    PGQRS_RETURN_IF_ERROR(deps_.owners.Run(*ctx, run));
    ToProto(run, resp);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* WorkflowServiceImpl::WaitRun(grpc::CallbackServerContext* ctx,
                                                       const v1::WaitRunRequest* req,
                                                       v1::Run* resp) {
  if (absl::Status s = CheckRunId(req->run_id()); !s.ok()) return FinishNow(ctx, s);
  absl::StatusOr<absl::Duration> timeout =
      CheckMillis("timeout_ms", req->timeout_ms(), deps_.config.limits.max_wait);
  if (!timeout.ok()) return FinishNow(ctx, timeout.status());
  auto attempt = [this, ctx, req, resp]() -> absl::StatusOr<bool> {
    PGQRS_ASSIGN_OR_RETURN(storage::RunInfo run, deps_.store.GetRun(req->run_id()));
    PGQRS_RETURN_IF_ERROR(deps_.owners.Run(*ctx, run));
    resp->Clear();
    ToProto(run, resp);
    return storage::IsTerminal(run.status);
  };
  return StartParkedCall(ctx, deps_, RunWaitKey(req->run_id()), absl::Now() + *timeout,
                         std::move(attempt), /*give_back=*/nullptr);
}

grpc::ServerUnaryReactor* WorkflowServiceImpl::ListRuns(grpc::CallbackServerContext* ctx,
                                                        const v1::ListRunsRequest* req,
                                                        v1::ListRunsResponse* resp) {
  storage::RunFilter filter;
  filter.workflow = req->workflow();
  absl::Status status =
      req->workflow().empty() ? absl::OkStatus() : CheckName("workflow", req->workflow());
  if (status.ok() && req->status() != v1::RUN_STATUS_UNSPECIFIED) {
    absl::StatusOr<storage::RunStatus> wanted = FromProto(req->status());
    status = wanted.status();
    if (wanted.ok()) filter.status = *wanted;
  }
  absl::StatusOr<IdPage> page =
      CheckIdPage(req->page_size(), req->page_token(), deps_.config.limits.max_page_size);
  if (status.ok()) status = page.status();
  if (!status.ok()) return FinishNow(ctx, status);
  filter.limit = page->size;
  filter.after_id = page->after_id;
  return RunUnary(ctx, deps_.executor, [this, filter, resp]() -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(std::vector<storage::RunInfo> runs, deps_.store.ListRuns(filter));
    for (const storage::RunInfo& r : runs) ToProto(r, resp->add_runs());
    if (static_cast<int32_t>(runs.size()) == filter.limit) {
      resp->set_next_page_token(EncodeIdPageToken(runs.back().id));
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* WorkflowServiceImpl::ListSteps(grpc::CallbackServerContext* ctx,
                                                         const v1::ListStepsRequest* req,
                                                         v1::ListStepsResponse* resp) {
  absl::Status status = CheckRunId(req->run_id());
  absl::StatusOr<IdPage> page =
      CheckIdPage(req->page_size(), req->page_token(), deps_.config.limits.max_page_size);
  if (status.ok()) status = page.status();
  if (!status.ok()) return FinishNow(ctx, status);
  storage::StepFilter filter{
      .run_id = req->run_id(), .after_id = page->after_id, .limit = page->size};
  return RunUnary(ctx, deps_.executor, [this, ctx, filter, resp]() -> absl::Status {
    PGQRS_RETURN_IF_ERROR(deps_.owners.Run(*ctx, filter.run_id));
    PGQRS_ASSIGN_OR_RETURN(std::vector<storage::StepInfo> steps, deps_.store.ListSteps(filter));
    for (const storage::StepInfo& s : steps) ToProto(s, resp->add_steps());
    if (static_cast<int32_t>(steps.size()) == filter.limit) {
      resp->set_next_page_token(EncodeIdPageToken(steps.back().id));
    }
    return absl::OkStatus();
  });
}

}  // namespace pgqrs::server
