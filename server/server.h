// Server is the running daemon: storage, the executor, long-poll waiters, the gRPC
// services (plus health and reflection) and the reapers, started and stopped in order.
//
// Thread safety: Shutdown may be called from any thread, once.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "absl/status/statusor.h"
#include "server/admin_service.h"
#include "server/auth.h"
#include "server/call_guard.h"
#include "server/config.h"
#include "server/executor.h"
#include "server/guarded_services.h"
#include "server/health.h"
#include "server/limits.h"
#include "server/metrics.h"
#include "server/owner_check.h"
#include "server/queue_service.h"
#include "server/reapers.h"
#include "server/waiters.h"
#include "server/worker_service.h"
#include "server/workflow_service.h"
#include "storage/store.h"

namespace pgqrs::server {

class Server {
 public:
  // Opens the store, migrates it (unless config.migrate is false), and starts serving.
  // Errors name what failed; a DSN password never appears in them.
  static absl::StatusOr<std::unique_ptr<Server>> Start(const Config& config);
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  ~Server();

  // The port actually bound (useful with a :0 listen address).
  int port() const { return port_; }
  // The port of the metrics endpoint, or 0 when there is none.
  int metrics_port() const { return metrics_port_; }

  // Graceful stop: health turns NOT_SERVING, parked long-polls answer at once, new calls
  // are refused, calls in flight get up to config.shutdown_grace, then reapers stop and
  // storage closes.
  void Shutdown();

  // Reads the tokens file again (SIGHUP); on error the tokens in force stay. OK without
  // authentication.
  absl::Status ReloadTokens();

 private:
  // Loads the tokens file, if any, into authorizer_.
  absl::Status LoadAuthorizer();
  // Builds the guard and the guarded services gRPC serves; REQUIRES the services.
  absl::Status StartGuard();
  explicit Server(const Config& config) : config_(config) {}

  const Config config_;
  // Declared before the store so it is destroyed after it: the store's remote-wake
  // handler (the PostgreSQL listener thread) notifies it until the store is gone.
  std::unique_ptr<WaiterRegistry> waiters_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<Authorizer> authorizer_;  // null when authentication is off
  std::unique_ptr<OwnerCheck> owners_;
  std::unique_ptr<QueueServiceImpl> queue_service_;
  std::unique_ptr<WorkerServiceImpl> worker_service_;
  std::unique_ptr<AdminServiceImpl> admin_service_;
  std::unique_ptr<WorkflowServiceImpl> workflow_service_;
  std::unique_ptr<LongPollLimiter> long_polls_;
  std::unique_ptr<CallGuard> guard_;
  std::unique_ptr<GuardedQueueService> guarded_queues_;
  std::unique_ptr<GuardedWorkerService> guarded_workers_;
  std::unique_ptr<GuardedAdminService> guarded_admin_;
  std::unique_ptr<GuardedWorkflowService> guarded_workflows_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<grpc::Server> grpc_;
  std::unique_ptr<Reapers> reapers_;
  std::unique_ptr<HealthMonitor> health_;
  int port_ = 0;
  int metrics_port_ = 0;
  bool stopped_ = false;
};

}  // namespace pgqrs::server
