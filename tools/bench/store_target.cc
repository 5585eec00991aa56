#include "tools/bench/store_target.h"

#include <unistd.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "engine/base/status_macros.h"
#include "storage/open_store.h"

namespace pgqrs::bench {
namespace {

// Wakes consumers waiting for messages, like the daemon's waiter registry.
class Signal {
 public:
  void Raise() {
    absl::MutexLock lock(&mu_);
    ++version_;
  }
  uint64_t version() {
    absl::MutexLock lock(&mu_);
    return version_;
  }
  // Waits until Raise after `seen`, or `timeout`.
  void Await(uint64_t seen, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto raised = [this, seen]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return version_ != seen; };
    mu_.AwaitWithTimeout(absl::Condition(&raised), timeout);
  }

 private:
  absl::Mutex mu_;
  uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;
};

std::string EncodeLease(const storage::Lease& lease) {
  return absl::StrCat(lease.message_id, ",", lease.token);
}

bool DecodeLease(const std::string& handle, storage::Lease* lease) {
  std::pair<std::string, std::string> parts = absl::StrSplit(handle, ',');
  return absl::SimpleAtoi(parts.first, &lease->message_id) &&
         absl::SimpleAtoi(parts.second, &lease->token);
}

class StoreSession final : public Session {
 public:
  StoreSession(storage::Store& store, const std::string& queue, Signal& signal)
      : store_(store), queue_(queue), signal_(signal) {}

  absl::Status Enqueue(std::span<const std::string> payloads) override {
    std::vector<storage::NewMessage> messages(payloads.size());
    for (size_t i = 0; i < payloads.size(); ++i) messages[i].payload_json = payloads[i];
    absl::Status status = store_.Enqueue(queue_, messages, 0).status();
    if (status.ok()) signal_.Raise();
    return status;
  }

  absl::StatusOr<std::vector<Leased>> Dequeue(int max, absl::Duration wait) override {
    storage::DequeueOptions options;
    options.max_messages = max;
    uint64_t seen = signal_.version();
    PGQRS_ASSIGN_OR_RETURN(std::vector<storage::Message> got, store_.Dequeue(queue_, options));
    if (got.empty() && wait > absl::ZeroDuration()) {
      signal_.Await(seen, wait);
      PGQRS_ASSIGN_OR_RETURN(got, store_.Dequeue(queue_, options));
    }
    std::vector<Leased> leased;
    leased.reserve(got.size());
    for (storage::Message& m : got) {
      leased.push_back(
          {std::move(m.payload_json), EncodeLease(m.lease.value_or(storage::Lease{}))});
    }
    return leased;
  }

  absl::Status Ack(std::span<const Leased> messages) override {
    std::vector<storage::Lease> leases(messages.size());
    for (size_t i = 0; i < messages.size(); ++i) {
      if (!DecodeLease(messages[i].handle, &leases[i])) return absl::InternalError("bad lease");
    }
    PGQRS_ASSIGN_OR_RETURN(std::vector<storage::LeaseOutcome> outcomes, store_.Ack(queue_, leases));
    for (storage::LeaseOutcome o : outcomes) {
      if (o != storage::LeaseOutcome::kOk) return absl::FailedPreconditionError("lease lost");
    }
    return absl::OkStatus();
  }

 private:
  storage::Store& store_;
  const std::string& queue_;
  Signal& signal_;
};

class StoreTarget final : public Target {
 public:
  explicit StoreTarget(std::unique_ptr<storage::Store> store) : store_(std::move(store)) {}

  std::string name() const override { return "store:" + store_->backend(); }

  absl::Status Setup() override {
    queue_ = absl::StrCat("bench-", getpid(), "-", absl::ToUnixMillis(absl::Now()));
    storage::QueueOptions options;
    options.name = queue_;
    return store_->CreateQueue(options).status();
  }

  absl::StatusOr<std::unique_ptr<Session>> NewSession() override {
    return std::make_unique<StoreSession>(*store_, queue_, signal_);
  }

  absl::Status Teardown() override { return store_->DeleteQueue(queue_, /*force=*/true); }

 private:
  std::unique_ptr<storage::Store> store_;
  std::string queue_;
  Signal signal_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Target>> NewStoreTarget(const std::string& dsn, int pool_size) {
  storage::StoreOptions options;
  options.pool_size = pool_size;
  PGQRS_ASSIGN_OR_RETURN(std::unique_ptr<storage::Store> store, storage::OpenStore(dsn, options));
  PGQRS_RETURN_IF_ERROR(store->Migrate().status());
  return std::make_unique<StoreTarget>(std::move(store));
}

}  // namespace pgqrs::bench
