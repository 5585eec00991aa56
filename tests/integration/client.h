// A thin synchronous gRPC client over the v1 stubs for integration tests.
#pragma once

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "proto/pgqrs/v1/admin.grpc.pb.h"
#include "proto/pgqrs/v1/queue.grpc.pb.h"
#include "proto/pgqrs/v1/worker.grpc.pb.h"
#include "proto/pgqrs/v1/workflow.grpc.pb.h"
#include "tests/support/daemon.h"

namespace pgqrs::testing {

struct Client {
  explicit Client(const Daemon& daemon)
      : queues(v1::QueueService::NewStub(daemon.Channel())),
        workers(v1::WorkerService::NewStub(daemon.Channel())),
        admin(v1::AdminService::NewStub(daemon.Channel())),
        workflows(v1::WorkflowService::NewStub(daemon.Channel())) {}

  // Calls `method` on `stub` with a fresh context and a 30 s deadline.
  template <typename Stub, typename Request, typename Response>
  grpc::Status Call(Stub& stub,
                    grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                    const Request& request, Response* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return (stub.*method)(&context, request, response);
  }

  void CreateQueue(const std::string& name, int32_t max_read_count = 0) {
    v1::CreateQueueRequest req;
    req.set_name(name);
    req.set_max_read_count(max_read_count);
    v1::Queue resp;
    grpc::Status status = Call(*queues, &v1::QueueService::Stub::CreateQueue, req, &resp);
    INFO(status.error_message());
    REQUIRE(status.ok());
  }

  std::vector<int64_t> Enqueue(const std::string& queue, const std::vector<std::string>& payloads) {
    v1::EnqueueRequest req;
    req.set_queue(queue);
    for (const std::string& p : payloads) req.add_messages()->set_payload_json(p);
    v1::EnqueueResponse resp;
    grpc::Status status = Call(*queues, &v1::QueueService::Stub::Enqueue, req, &resp);
    INFO(status.error_message());
    REQUIRE(status.ok());
    return {resp.message_ids().begin(), resp.message_ids().end()};
  }

  v1::DequeueResponse Dequeue(const std::string& queue, int32_t max, int64_t wait_ms = 0,
                              int64_t vt_ms = 0) {
    v1::DequeueRequest req;
    req.set_queue(queue);
    req.set_max_messages(max);
    req.set_wait_ms(wait_ms);
    req.set_visibility_timeout_ms(vt_ms);
    v1::DequeueResponse resp;
    grpc::Status status = Call(*queues, &v1::QueueService::Stub::Dequeue, req, &resp);
    INFO(status.error_message());
    REQUIRE(status.ok());
    return resp;
  }

  v1::QueueStats Stats(const std::string& queue) {
    v1::QueueStatsRequest req;
    req.set_queue(queue);
    v1::QueueStats resp;
    REQUIRE(Call(*queues, &v1::QueueService::Stub::QueueStats, req, &resp).ok());
    return resp;
  }

  std::unique_ptr<v1::QueueService::Stub> queues;
  std::unique_ptr<v1::WorkerService::Stub> workers;
  std::unique_ptr<v1::AdminService::Stub> admin;
  std::unique_ptr<v1::WorkflowService::Stub> workflows;
};

}  // namespace pgqrs::testing
