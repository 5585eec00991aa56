// An in-process pgqrsd core for tests that must control its executor: a real store, the
// real QueueService and WorkflowService on a loopback gRPC port, and a one-thread
// executor the test can hold busy (Block) and wait on (Drain).
#pragma once

#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "proto/pgqrs/v1/queue.grpc.pb.h"
#include "proto/pgqrs/v1/workflow.grpc.pb.h"
#include "server/call.h"
#include "server/queue_service.h"
#include "server/workflow_service.h"
#include "storage/open_store.h"

namespace pgqrs::testing {

// Polls `condition` every 10 ms for up to 10 s; returns whether it held.
inline bool WaitUntil(const std::function<bool()>& condition) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

class InProcessServer {
 public:
  explicit InProcessServer(const std::string& dsn)
      : store_(OpenMigrated(dsn)),
        executor_(/*threads=*/1, /*queue_limit=*/1000),
        owners_(/*authorizer=*/nullptr, *store_),
        deps_{*store_, executor_, waiters_, config_, owners_},
        queue_service_(deps_),
        workflow_service_(deps_) {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&queue_service_);
    builder.RegisterService(&workflow_service_);
    server_ = builder.BuildAndStart();
    REQUIRE(port != 0);
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                       grpc::InsecureChannelCredentials());
    queues = v1::QueueService::NewStub(channel);
    workflows = v1::WorkflowService::NewStub(channel);
  }
  ~InProcessServer() {
    waiters_.Shutdown();
    server_->Shutdown();
    Drain();
  }

  storage::Store& store() { return *store_; }
  server::WaiterRegistry& waiters() { return waiters_; }
  const server::QueueServiceImpl& queue_service() const { return queue_service_; }

  // Holds the executor's only thread until the returned notification is notified.
  std::shared_ptr<absl::Notification> Block() {
    auto release = std::make_shared<absl::Notification>();
    auto started = std::make_shared<absl::Notification>();
    REQUIRE(executor_.Submit([release, started] {
      started->Notify();
      release->WaitForNotification();
    }));
    started->WaitForNotification();
    return release;
  }

  // Returns once every task queued before this call has run.
  void Drain() {
    absl::Notification done;
    REQUIRE(executor_.Submit([&done] { done.Notify(); }));
    done.WaitForNotification();
  }

  std::unique_ptr<v1::QueueService::Stub> queues;
  std::unique_ptr<v1::WorkflowService::Stub> workflows;

 private:
  static std::unique_ptr<storage::Store> OpenMigrated(const std::string& dsn) {
    auto store = storage::OpenStore(dsn, storage::StoreOptions());
    REQUIRE(store.ok());
    REQUIRE((*store)->Migrate().ok());
    return std::move(*store);
  }

  server::Config config_;
  std::unique_ptr<storage::Store> store_;
  server::WaiterRegistry waiters_;
  server::Executor executor_;
  server::OwnerCheck owners_;
  server::ServiceDeps deps_;
  server::QueueServiceImpl queue_service_;
  server::WorkflowServiceImpl workflow_service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace pgqrs::testing
