#include "server/admin_service.h"

#include "engine/base/status_macros.h"
#include "server/reapers.h"
#include "server/validation.h"
#include "storage/dsn.h"

namespace pgqrs::server {

grpc::ServerUnaryReactor* AdminServiceImpl::Migrate(grpc::CallbackServerContext* ctx,
                                                    const v1::MigrateRequest*,
                                                    v1::MigrateResponse* resp) {
  return RunUnary(ctx, deps_.executor, [this, resp]() -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(storage::MigrationReport report, deps_.store.Migrate());
    resp->set_schema_version(report.schema_version);
    for (int32_t v : report.applied) resp->add_applied(v);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::Verify(grpc::CallbackServerContext* ctx,
                                                   const v1::VerifyRequest*,
                                                   v1::VerifyResponse* resp) {
  return RunUnary(ctx, deps_.executor, [this, resp]() -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(storage::VerifyReport report, deps_.store.Verify());
    resp->set_ok(report.problems.empty());
    resp->set_schema_version(report.schema_version);
    for (const std::string& p : report.problems) resp->add_problems(p);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::SystemStats(grpc::CallbackServerContext* ctx,
                                                        const v1::SystemStatsRequest*,
                                                        v1::SystemStatsResponse* resp) {
  return RunUnary(ctx, deps_.executor, [this, resp]() -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(storage::SystemCounts c, deps_.store.GetSystemCounts());
    resp->set_queues(c.queues);
    resp->set_workers(c.workers);
    resp->set_workers_live(c.workers_live);
    resp->set_pending(c.messages.pending);
    resp->set_delayed(c.messages.delayed);
    resp->set_in_flight(c.messages.in_flight);
    resp->set_dead(c.messages.dead);
    resp->set_archived(c.messages.archived);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::ReclaimWorkers(grpc::CallbackServerContext* ctx,
                                                           const v1::ReclaimWorkersRequest* req,
                                                           v1::ReclaimWorkersResponse* resp) {
  absl::Status status = req->queue().empty() ? absl::OkStatus() : CheckName("queue", req->queue());
  absl::Duration older_than = deps_.config.worker_timeout;
  if (status.ok() && req->older_than_ms() != 0) {
    absl::StatusOr<absl::Duration> d =
        CheckMillis("older_than_ms", req->older_than_ms(), absl::Hours(24 * 365));
    status = d.status();
    if (d.ok()) older_than = *d;
  }
  if (!status.ok()) return FinishNow(ctx, status);
  return RunUnary(ctx, deps_.executor, [this, req, resp, older_than]() -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(storage::ReclaimReport report,
                           deps_.store.ReclaimWorkers(req->queue(), older_than));
    resp->set_workers_stopped(report.workers_stopped);
    resp->set_messages_released(report.messages_released);
    WakeReleased(deps_.waiters, report);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::GetServerInfo(grpc::CallbackServerContext* ctx,
                                                          const v1::GetServerInfoRequest*,
                                                          v1::ServerInfo* resp) {
  resp->set_version(kServerVersion);
  resp->set_backend(deps_.store.backend());
  resp->set_storage_dsn(storage::RedactDsn(deps_.config.dsn));
  resp->set_schema_version(schema_version_);
  for (const char* c : {"queues", "workers", "long-poll", "dead-letters", "delays", "priorities",
                        "deduplication", "workflows"}) {
    resp->add_capabilities(c);
  }
  return FinishNow(ctx, absl::OkStatus());
}

}  // namespace pgqrs::server
