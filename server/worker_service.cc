#include "server/worker_service.h"

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "server/convert.h"
#include "server/validation.h"
#include "storage/checks.h"

namespace pgqrs::server {
namespace {

absl::Status CheckWorkerId(int64_t id) {
  if (id > 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("worker_id: ", id, " is not a worker id"));
}

absl::StatusOr<storage::WorkerRegistration> CheckRegistration(
    const v1::RegisterWorkerRequest& req) {
  PGQRS_RETURN_IF_ERROR(CheckName("name", req.name()));
  storage::WorkerRegistration reg;
  PGQRS_ASSIGN_OR_RETURN(reg.role, FromProto(req.role()));
  if (reg.role == storage::WorkerRole::kAdmin && !req.queue().empty()) {
    return absl::InvalidArgumentError("queue: must be empty for an admin worker");
  }
  if (reg.role != storage::WorkerRole::kAdmin)
    PGQRS_RETURN_IF_ERROR(CheckName("queue", req.queue()));
  if (req.hostname().size() > 255) {
    return absl::InvalidArgumentError("hostname: longer than 255 bytes");
  }
  if (req.labels_size() > 64) return absl::InvalidArgumentError("labels: more than 64");
  for (const auto& [key, value] : req.labels()) {
    if (key.empty() || key.size() > 128 || value.size() > 1024) {
      return absl::InvalidArgumentError(
          "labels: keys must be 1 to 128 bytes and values at most 1024");
    }
    reg.labels[key] = value;
  }
  reg.name = req.name();
  reg.queue = req.queue();
  reg.hostname = req.hostname();
  PGQRS_RETURN_IF_ERROR(storage::CheckRegistrationText(reg));
  return reg;
}

}  // namespace

grpc::ServerUnaryReactor* WorkerServiceImpl::RegisterWorker(grpc::CallbackServerContext* ctx,
                                                            const v1::RegisterWorkerRequest* req,
                                                            v1::Worker* resp) {
  auto reg = CheckRegistration(*req);
  if (!reg.ok()) return FinishNow(ctx, reg.status());
  return RunUnary(ctx, deps_.executor, [this, resp, reg = std::move(*reg)]() -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(storage::WorkerInfo w, deps_.store.RegisterWorker(reg));
    ToProto(w, resp);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* WorkerServiceImpl::Heartbeat(grpc::CallbackServerContext* ctx,
                                                       const v1::HeartbeatRequest* req,
                                                       v1::Worker* resp) {
  if (absl::Status s = CheckWorkerId(req->worker_id()); !s.ok()) return FinishNow(ctx, s);
  return RunUnary(ctx, deps_.executor, [this, ctx, req, resp]() -> absl::Status {
    PGQRS_RETURN_IF_ERROR(deps_.owners.Worker(*ctx, req->worker_id()));
    PGQRS_ASSIGN_OR_RETURN(storage::WorkerInfo w, deps_.store.Heartbeat(req->worker_id()));
    ToProto(w, resp);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* WorkerServiceImpl::Move(grpc::CallbackServerContext* ctx,
                                                  int64_t worker_id, storage::WorkerMove move,
                                                  v1::Worker* resp) {
  if (absl::Status s = CheckWorkerId(worker_id); !s.ok()) return FinishNow(ctx, s);
  return RunUnary(ctx, deps_.executor, [this, ctx, worker_id, move, resp]() -> absl::Status {
    PGQRS_RETURN_IF_ERROR(deps_.owners.Worker(*ctx, worker_id));
    PGQRS_ASSIGN_OR_RETURN(storage::WorkerInfo w, deps_.store.MoveWorker(worker_id, move));
    ToProto(w, resp);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* WorkerServiceImpl::SuspendWorker(grpc::CallbackServerContext* ctx,
                                                           const v1::WorkerIdRequest* req,
                                                           v1::Worker* resp) {
  return Move(ctx, req->worker_id(), storage::WorkerMove::kSuspend, resp);
}

grpc::ServerUnaryReactor* WorkerServiceImpl::ResumeWorker(grpc::CallbackServerContext* ctx,
                                                          const v1::WorkerIdRequest* req,
                                                          v1::Worker* resp) {
  return Move(ctx, req->worker_id(), storage::WorkerMove::kResume, resp);
}

grpc::ServerUnaryReactor* WorkerServiceImpl::InterruptWorker(grpc::CallbackServerContext* ctx,
                                                             const v1::WorkerIdRequest* req,
                                                             v1::Worker* resp) {
  return Move(ctx, req->worker_id(), storage::WorkerMove::kInterrupt, resp);
}

grpc::ServerUnaryReactor* WorkerServiceImpl::ShutdownWorker(grpc::CallbackServerContext* ctx,
                                                            const v1::ShutdownWorkerRequest* req,
                                                            v1::Worker* resp) {
  if (absl::Status s = CheckWorkerId(req->worker_id()); !s.ok()) return FinishNow(ctx, s);
  return RunUnary(ctx, deps_.executor, [this, ctx, req, resp]() -> absl::Status {
    PGQRS_RETURN_IF_ERROR(deps_.owners.Worker(*ctx, req->worker_id()));
    PGQRS_ASSIGN_OR_RETURN(storage::WorkerInfo w,
                           deps_.store.ShutdownWorker(req->worker_id(), req->release_messages()));
    ToProto(w, resp);
    // Released leases made messages visible; parked consumers may take them.
    if (req->release_messages() && !w.queue.empty()) deps_.waiters.NotifyAll(w.queue);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* WorkerServiceImpl::GetWorker(grpc::CallbackServerContext* ctx,
                                                       const v1::WorkerIdRequest* req,
                                                       v1::Worker* resp) {
  if (absl::Status s = CheckWorkerId(req->worker_id()); !s.ok()) return FinishNow(ctx, s);
  return RunUnary(ctx, deps_.executor, [this, ctx, req, resp]() -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(storage::WorkerInfo w, deps_.store.GetWorker(req->worker_id()));
    PGQRS_RETURN_IF_ERROR(deps_.owners.Worker(*ctx, w));
    ToProto(w, resp);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* WorkerServiceImpl::ListWorkers(grpc::CallbackServerContext* ctx,
                                                         const v1::ListWorkersRequest* req,
                                                         v1::ListWorkersResponse* resp) {
  storage::WorkerFilter filter;
  filter.queue = req->queue();
  absl::Status status = filter.queue.empty() ? absl::OkStatus() : CheckName("queue", filter.queue);
  if (status.ok() && req->status() != v1::WORKER_STATUS_UNSPECIFIED) {
    absl::StatusOr<storage::WorkerStatus> s = FromProto(req->status());
    status = s.status();
    if (s.ok()) filter.status = *s;
  }
  absl::StatusOr<IdPage> page =
      CheckIdPage(req->page_size(), req->page_token(), deps_.config.limits.max_page_size);
  if (status.ok()) status = page.status();
  if (!status.ok()) return FinishNow(ctx, status);
  filter.limit = page->size;
  filter.after_id = page->after_id;
  return RunUnary(ctx, deps_.executor, [this, filter, resp]() -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(std::vector<storage::WorkerInfo> workers,
                           deps_.store.ListWorkers(filter));
    for (const storage::WorkerInfo& w : workers) ToProto(w, resp->add_workers());
    if (static_cast<int32_t>(workers.size()) == filter.limit) {
      resp->set_next_page_token(EncodeIdPageToken(workers.back().id));
    }
    return absl::OkStatus();
  });
}

}  // namespace pgqrs::server
