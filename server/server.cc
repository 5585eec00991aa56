#include "server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "server/tls.h"
#include "storage/dsn.h"
#include "storage/open_store.h"

namespace pgqrs::server {
namespace {

// Responses are ours: a maximal batch of maximal payloads plus framing must fit.
int MaxResponseBytes(const Limits& limits) {
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
  s->store_->SetRemoteWakeHandler(
      [waiters](const std::string& queue) { waiters->NotifyAll(queue); });
  PGQRS_RETURN_IF_ERROR(s->LoadAuthorizer());
  s->owners_ = std::make_unique<OwnerCheck>(s->authorizer_.get(), *s->store_);
  ServiceDeps deps{*s->store_, *s->executor_, *s->waiters_, s->config_, *s->owners_};
  s->queue_service_ = std::make_unique<QueueServiceImpl>(deps);
  s->worker_service_ = std::make_unique<WorkerServiceImpl>(deps);
  s->admin_service_ = std::make_unique<AdminServiceImpl>(deps, schema_version);
  s->workflow_service_ = std::make_unique<WorkflowServiceImpl>(deps);
  PGQRS_RETURN_IF_ERROR(s->StartGuard());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  PGQRS_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                         ListenerCredentials(config.tls));
  builder.AddListeningPort(config.listen, credentials, &s->port_);
  // gRPC binds with SO_REUSEPORT by default, so a second daemon on a taken port would start
  // and share its connections; refuse to start instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  ApplyTransportLimits(config.limits, builder);
  builder.SetMaxSendMessageSize(MaxResponseBytes(config.limits));
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  s->metrics_ = std::make_unique<Metrics>();
  interceptors.push_back(s->metrics_->RpcRecorder());
  interceptors.push_back(s->guard_->CallEndReporter());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  builder.RegisterService(s->guarded_queues_.get());
  builder.RegisterService(s->guarded_workers_.get());
  builder.RegisterService(s->guarded_admin_.get());
  builder.RegisterService(s->guarded_workflows_.get());
  s->grpc_ = builder.BuildAndStart();
  if (!s->grpc_ || s->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", config.listen, " (is the address in use?)"));
  }
  if (!config.metrics_listen.empty()) {
    MetricSources sources{*s->store_, *s->executor_, *s->long_polls_, config.metrics_max_queues};
    PGQRS_ASSIGN_OR_RETURN(s->metrics_port_, s->metrics_->Serve(config.metrics_listen, sources));
  }
  storage::Store* store = s->store_.get();
  s->health_ = std::make_unique<HealthMonitor>(
      *s->grpc_->GetHealthCheckService(), [store] { return store->ListQueues("", 1).status(); },
      config.health_check_interval);
  s->reapers_ = std::make_unique<Reapers>(*s->store_, *s->waiters_, s->config_, *s->metrics_);
  return s;
}

absl::Status Server::LoadAuthorizer() {
  if (!config_.auth_tokens_file.empty()) {
    PGQRS_ASSIGN_OR_RETURN(authorizer_, Authorizer::Load(config_.auth_tokens_file));
  } else {
    spdlog::warn(
        "authentication is off: every client may call everything "
        "(--auth_tokens_file enables it)");
  }
  return absl::OkStatus();
}

absl::Status Server::StartGuard() {
  long_polls_ = std::make_unique<LongPollLimiter>(config_.limits.max_long_polls_per_connection,
                                                  config_.limits.max_long_polls);
  guard_ = std::make_unique<CallGuard>(authorizer_.get(), *long_polls_, config_.limits);
  guarded_queues_ = std::make_unique<GuardedQueueService>(*guard_, *queue_service_);
  guarded_workers_ = std::make_unique<GuardedWorkerService>(*guard_, *worker_service_);
  guarded_admin_ = std::make_unique<GuardedAdminService>(*guard_, *admin_service_);
  guarded_workflows_ = std::make_unique<GuardedWorkflowService>(*guard_, *workflow_service_);
  return absl::OkStatus();
}

absl::Status Server::ReloadTokens() {
  if (authorizer_ == nullptr) return absl::OkStatus();
  return authorizer_->Reload();
}

void Server::Shutdown() {
  if (stopped_) return;
  stopped_ = true;
  if (health_) health_->Drain();
  waiters_->Shutdown();
  grpc_->Shutdown(absl::ToChronoTime(absl::Now() + config_.shutdown_grace));
  // The log's timestamps show where a slow shutdown spent its time.
  spdlog::info("shutdown: calls ended");
  reapers_.reset();
  executor_.reset();  // runs what was accepted, then joins
  grpc_->Wait();
  spdlog::info("shutdown: reapers and executor stopped");
}

Server::~Server() {
  if (grpc_) Shutdown();
}

}  // namespace pgqrs::server
