#include "server/long_poll.h"

#include <memory>
#include <optional>

#include "server/convert.h"
#include "server/status.h"

namespace pgqrs::server {
namespace {

class LongPoll;

// Shared by the reactor, executor tasks and the parked waiter; outlives all of them.
struct PollState {
  PollState(ServiceDeps d, std::string k, absl::Time dl, ParkedAttempt a)
      : deps(d), key(std::move(k)), deadline(dl), attempt(std::move(a)) {}

  ServiceDeps deps;
  const std::string key;
  const absl::Time deadline;
  const ParkedAttempt attempt;
  grpc::ServerUnaryReactor* reactor = nullptr;

  absl::Mutex mu;
  std::optional<WaiterRegistry::Ticket> ticket ABSL_GUARDED_BY(mu);
  bool cancelled ABSL_GUARDED_BY(mu) = false;
  bool finished ABSL_GUARDED_BY(mu) = false;
};

void Attempt(const std::shared_ptr<PollState>& state);

// Finishes the call once; later calls do nothing. The reactor may be gone after this.
void FinishOnce(PollState& state, const grpc::Status& status) {
  {
    absl::MutexLock lock(&state.mu);
    if (state.finished) return;
    state.finished = true;
  }
  state.reactor->Finish(status);
}

void OnWake(const std::shared_ptr<PollState>& state, WakeReason reason) {
  switch (reason) {
    case WakeReason::kNotified:
    case WakeReason::kDeadline:
      Attempt(state);
      return;
    case WakeReason::kCancelled:
      FinishOnce(*state, grpc::Status::CANCELLED);
      return;
    case WakeReason::kShutdown:
      FinishOnce(*state, grpc::Status::OK);
      return;
  }
}

void Park(const std::shared_ptr<PollState>& state, uint64_t version) {
  Executor& executor = state->deps.executor;
  auto wake = [state, &executor](WakeReason reason) {
    if (!executor.Submit([state, reason] { OnWake(state, reason); })) {
      FinishOnce(*state, grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, kOverloaded));
    }
  };
  WaiterRegistry::Ticket ticket =
      state->deps.waiters.Park(state->key, version, state->deadline, std::move(wake));
  absl::MutexLock lock(&state->mu);
  state->ticket = ticket;
}

void Attempt(const std::shared_ptr<PollState>& state) {
  uint64_t version = state->deps.waiters.Version(state->key);
  absl::StatusOr<bool> answered = state->attempt();
  if (!answered.ok()) {
    FinishOnce(*state, ToGrpcStatus(answered.status()));
    return;
  }
  bool cancelled;
  {
    absl::MutexLock lock(&state->mu);
    cancelled = state->cancelled;
  }
  if (!*answered && !cancelled && absl::Now() < state->deadline) {
    Park(state, version);
    return;
  }
  FinishOnce(*state, grpc::Status::OK);
}

class LongPoll final : public grpc::ServerUnaryReactor {
 public:
  explicit LongPoll(std::shared_ptr<PollState> state) : state_(std::move(state)) {
    state_->reactor = this;
  }

  void Start() {
    auto state = state_;
    if (!state->deps.executor.Submit([state] { Attempt(state); })) {
      FinishOnce(*state, grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, kOverloaded));
    }
  }

  void OnCancel() override {
    std::optional<WaiterRegistry::Ticket> ticket;
    {
      absl::MutexLock lock(&state_->mu);
      state_->cancelled = true;
      ticket = state_->ticket;
    }
    if (ticket) state_->deps.waiters.Cancel(*ticket);
  }

  void OnDone() override { delete this; }

 private:
  std::shared_ptr<PollState> state_;
};

}  // namespace

grpc::ServerUnaryReactor* StartParkedCall(ServiceDeps deps, std::string key, absl::Time deadline,
                                          ParkedAttempt attempt) {
  auto* call =
      new LongPoll(std::make_shared<PollState>(deps, std::move(key), deadline, std::move(attempt)));
  call->Start();
  return call;
}

grpc::ServerUnaryReactor* StartLongPoll(ServiceDeps deps, std::string queue,
                                        storage::DequeueOptions options, absl::Time deadline,
                                        v1::DequeueResponse* response) {
  storage::Store* store = &deps.store;
  auto attempt = [store, queue, options, response]() -> absl::StatusOr<bool> {
    absl::StatusOr<std::vector<storage::Message>> leased = store->Dequeue(queue, options);
    if (!leased.ok()) return leased.status();
    for (const storage::Message& m : *leased) ToProto(m, response->add_messages());
    return !leased->empty();
  };
  return StartParkedCall(deps, std::move(queue), deadline, std::move(attempt));
}

}  // namespace pgqrs::server
