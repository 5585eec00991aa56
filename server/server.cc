#include "server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "storage/dsn.h"
#include "storage/open_store.h"

namespace pgqrs::server {
namespace {

// gRPC's own limit must not cut a maximal batch short: max_batch payloads plus framing.
int MaxMessageBytes(const Limits& limits) {
  int64_t bytes = limits.max_payload_bytes * limits.max_batch + (16 << 20);
  return static_cast<int>(std::min<int64_t>(bytes, INT32_MAX));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const Config& config) {
  std::unique_ptr<Server> s(new Server(config));
  storage::StoreOptions store_options;
  store_options.pool_size = config.pool_size;
  store_options.notify_dsn = config.notify_dsn;
  PGQRS_ASSIGN_OR_RETURN(s->store_, storage::OpenStore(config.dsn, store_options));
  int32_t schema_version = 0;
  if (config.migrate) {
    PGQRS_ASSIGN_OR_RETURN(storage::MigrationReport report, s->store_->Migrate());
    if (!report.applied.empty()) {
      spdlog::info("applied {} migrations; schema version {}", report.applied.size(),
                   report.schema_version);
    }
    schema_version = report.schema_version;
  } else {
    PGQRS_ASSIGN_OR_RETURN(storage::VerifyReport report, s->store_->Verify());
    schema_version = report.schema_version;
  }
  s->executor_ = std::make_unique<Executor>(config.executor_threads, config.executor_queue_limit);
  s->waiters_ = std::make_unique<WaiterRegistry>();
  WaiterRegistry* waiters = s->waiters_.get();
  s->store_->SetRemoteWakeHandler([waiters](const std::string& queue) { waiters->NotifyAll(queue); });
  ServiceDeps deps{*s->store_, *s->executor_, *s->waiters_, s->config_};
  s->queue_service_ = std::make_unique<QueueServiceImpl>(deps);
  s->worker_service_ = std::make_unique<WorkerServiceImpl>(deps);
  s->admin_service_ = std::make_unique<AdminServiceImpl>(deps, schema_version);
  s->workflow_service_ = std::make_unique<WorkflowServiceImpl>(deps);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.listen, grpc::InsecureServerCredentials(), &s->port_);
  builder.SetMaxReceiveMessageSize(MaxMessageBytes(config.limits));
  builder.SetMaxSendMessageSize(MaxMessageBytes(config.limits));
  builder.RegisterService(s->queue_service_.get());
  builder.RegisterService(s->worker_service_.get());
  builder.RegisterService(s->admin_service_.get());
  builder.RegisterService(s->workflow_service_.get());
  s->grpc_ = builder.BuildAndStart();
  if (!s->grpc_ || s->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", config.listen));
  }
  s->reapers_ = std::make_unique<Reapers>(*s->store_, *s->waiters_, s->config_);
  return s;
}

void Server::Shutdown() {
  if (stopped_) return;
  stopped_ = true;
  waiters_->Shutdown();
  grpc_->Shutdown(absl::ToChronoTime(absl::Now() + config_.shutdown_grace));
  reapers_.reset();
  executor_.reset();  // runs what was accepted, then joins
  grpc_->Wait();
}

Server::~Server() {
  if (grpc_) Shutdown();
}

}  // namespace pgqrs::server
