#include "tools/bench/grpc_targets.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "proto/pgqrs/v1/admin.grpc.pb.h"
#include "proto/pgqrs/v1/queue.grpc.pb.h"
#include "tools/bench/channels.h"

namespace pgqrs::bench {
namespace {

constexpr absl::Duration kCallSlack = absl::Seconds(30);

void SetDeadline(grpc::ClientContext& context, absl::Duration wait) {
  context.set_deadline(absl::ToChronoTime(absl::Now() + wait + kCallSlack));
}

// Hands out channels round-robin: a new one per session, or one of a fixed set.
class ChannelPool {
 public:
  explicit ChannelPool(const GrpcTargetOptions& options) : options_(options) {
    for (int i = 0; i < options.channels; ++i) fixed_.push_back(NewChannel(options.server, options.identity, i));
  }

  std::shared_ptr<grpc::Channel> Next() {
    int n = next_.fetch_add(1);
    if (fixed_.empty()) return NewChannel(options_.server, options_.identity, n);
    return fixed_[n % fixed_.size()];
  }

 private:
  const GrpcTargetOptions options_;
  std::vector<std::shared_ptr<grpc::Channel>> fixed_;
  std::atomic<int> next_{0};
};

class PgqrsSession final : public Session {
 public:
  PgqrsSession(std::shared_ptr<grpc::Channel> channel, std::string queue, int priorities)
      : stub_(v1::QueueService::NewStub(channel)),
        queue_(std::move(queue)),
        priorities_(priorities) {}

  absl::Status Enqueue(std::span<const std::string> payloads) override {
    v1::EnqueueRequest req;
    req.set_queue(queue_);
    for (const std::string& p : payloads) {
      v1::NewMessage* m = req.add_messages();
      m->set_payload_json(p);
      if (priorities_ > 1) m->set_priority(absl::Uniform(rng_, 0, priorities_));
    }
    v1::EnqueueResponse resp;
    grpc::ClientContext context;
    SetDeadline(context, absl::ZeroDuration());
    return ToAbsl(stub_->Enqueue(&context, req, &resp));
  }

  absl::StatusOr<std::vector<Leased>> Dequeue(int max, absl::Duration wait) override {
    v1::DequeueRequest req;
    req.set_queue(queue_);
    req.set_max_messages(max);
    req.set_wait_ms(absl::ToInt64Milliseconds(wait));
    v1::DequeueResponse resp;
    grpc::ClientContext context;
    SetDeadline(context, wait);
    grpc::Status status = stub_->Dequeue(&context, req, &resp);
    if (!status.ok()) return ToAbsl(status);
    std::vector<Leased> leased;
    leased.reserve(resp.messages_size());
    for (v1::Message& m : *resp.mutable_messages()) {
      leased.push_back({std::move(*m.mutable_payload_json()), std::move(*m.mutable_receipt())});
    }
    return leased;
  }

  absl::Status Ack(std::span<const Leased> messages) override {
    v1::AckRequest req;
    req.set_queue(queue_);
    for (const Leased& m : messages) req.add_receipts(m.handle);
    v1::ReceiptResponse resp;
    grpc::ClientContext context;
    SetDeadline(context, absl::ZeroDuration());
    grpc::Status status = stub_->Ack(&context, req, &resp);
    if (!status.ok()) return ToAbsl(status);
    for (int r : resp.results()) {
      if (r == v1::RECEIPT_RESULT_LEASE_LOST) return absl::FailedPreconditionError("lease lost");
      if (r != v1::RECEIPT_RESULT_OK) return absl::NotFoundError("receipt not found");
    }
    return absl::OkStatus();
  }

 private:
  std::unique_ptr<v1::QueueService::Stub> stub_;
  const std::string queue_;
  const int priorities_;
  absl::BitGen rng_;
};

class PgqrsTarget final : public Target {
 public:
  explicit PgqrsTarget(const GrpcTargetOptions& options) : options_(options), pool_(options) {}

  std::string name() const override { return "pgqrs"; }

  absl::Status Setup() override {
    queue_ = options_.queue.empty()
                 ? absl::StrCat("bench-", getpid(), "-", absl::ToUnixMillis(absl::Now()))
                 : options_.queue;
    auto stub = v1::QueueService::NewStub(pool_.Next());
    v1::CreateQueueRequest req;
    req.set_name(queue_);
    req.set_if_not_exists(true);
    v1::Queue resp;
    grpc::ClientContext context;
    SetDeadline(context, absl::ZeroDuration());
    context.set_wait_for_ready(true);  // the daemon may still be starting
    return ToAbsl(stub->CreateQueue(&context, req, &resp));
  }

  absl::StatusOr<std::unique_ptr<Session>> NewSession() override {
    return std::make_unique<PgqrsSession>(pool_.Next(), queue_, options_.priorities);
  }

  absl::Status Teardown() override {
    if (!options_.queue.empty()) return absl::OkStatus();
    auto stub = v1::QueueService::NewStub(pool_.Next());
    v1::DeleteQueueRequest req;
    req.set_name(queue_);
    req.set_force(true);
    v1::DeleteQueueResponse resp;
    grpc::ClientContext context;
    SetDeadline(context, absl::ZeroDuration());
    return ToAbsl(stub->DeleteQueue(&context, req, &resp));
  }

 private:
  const GrpcTargetOptions options_;
  ChannelPool pool_;
  std::string queue_;
};

// The messages in flight between ping producers and consumers, inside this process.
class LocalQueue {
 public:
  void Push(std::span<const std::string> payloads) {
    absl::MutexLock lock(&mu_);
    for (const std::string& p : payloads) items_.push_back(p);
  }

  // Takes up to `max`, waiting up to `wait` for the first.
  std::vector<Leased> Take(int max, absl::Duration wait) {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !items_.empty(); };
    mu_.AwaitWithTimeout(absl::Condition(&ready), wait);
    std::vector<Leased> taken;
    while (!items_.empty() && static_cast<int>(taken.size()) < max) {
      taken.push_back({std::move(items_.front()), ""});
      items_.pop_front();
    }
    return taken;
  }

 private:
  absl::Mutex mu_;
  std::deque<std::string> items_ ABSL_GUARDED_BY(mu_);
};

class PingSession final : public Session {
 public:
  PingSession(std::shared_ptr<grpc::Channel> channel, LocalQueue& queue)
      : stub_(v1::AdminService::NewStub(channel)), queue_(queue) {}

  absl::Status Enqueue(std::span<const std::string> payloads) override {
    absl::Status status = Ping();
    if (status.ok()) queue_.Push(payloads);
    return status;
  }

  absl::StatusOr<std::vector<Leased>> Dequeue(int max, absl::Duration wait) override {
    std::vector<Leased> taken = queue_.Take(max, wait);
    if (taken.empty()) return taken;
    absl::Status status = Ping();
    if (!status.ok()) return status;
    return taken;
  }

  absl::Status Ack(std::span<const Leased>) override { return Ping(); }

 private:
  absl::Status Ping() {
    v1::GetServerInfoRequest req;
    v1::ServerInfo resp;
    grpc::ClientContext context;
    SetDeadline(context, absl::ZeroDuration());
    return ToAbsl(stub_->GetServerInfo(&context, req, &resp));
  }

  std::unique_ptr<v1::AdminService::Stub> stub_;
  LocalQueue& queue_;
};

class PingTarget final : public Target {
 public:
  explicit PingTarget(const GrpcTargetOptions& options) : pool_(options) {}

  std::string name() const override { return "ping"; }
  absl::Status Setup() override { return absl::OkStatus(); }
  absl::StatusOr<std::unique_ptr<Session>> NewSession() override {
    return std::make_unique<PingSession>(pool_.Next(), queue_);
  }
  absl::Status Teardown() override { return absl::OkStatus(); }

 private:
  ChannelPool pool_;
  LocalQueue queue_;
};

}  // namespace

std::unique_ptr<Target> NewPgqrsTarget(const GrpcTargetOptions& options) {
  return std::make_unique<PgqrsTarget>(options);
}

std::unique_ptr<Target> NewPingTarget(const GrpcTargetOptions& options) {
  return std::make_unique<PingTarget>(options);
}

}  // namespace pgqrs::bench
