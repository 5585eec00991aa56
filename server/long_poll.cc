#include "server/long_poll.h"

#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "server/convert.h"
#include "server/status.h"

namespace pgqrs::server {

// Shared by the reactor, executor tasks and the parked waiter; outlives all of them.
struct PollState {
  PollState(ServiceDeps d, std::string k, absl::Time dl, absl::Time client_dl, ParkedAttempt a,
            GiveBack g)
      : deps(d),
        key(std::move(k)),
        deadline(dl),
        client_deadline(client_dl),
        attempt(std::move(a)),
        give_back(std::move(g)) {}

  ServiceDeps deps;
  const std::string key;
  const absl::Time deadline;
  const absl::Time client_deadline;
  const ParkedAttempt attempt;
  const GiveBack give_back;
  grpc::ServerUnaryReactor* reactor = nullptr;

  absl::Mutex mu;
  std::optional<WaiterRegistry::Ticket> ticket ABSL_GUARDED_BY(mu);
  bool cancelled ABSL_GUARDED_BY(mu) = false;
  bool finished ABSL_GUARDED_BY(mu) = false;
  // An answering try's takings are with the reply; they go back if it is not delivered.
  bool holds_takings ABSL_GUARDED_BY(mu) = false;
};

namespace {

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

std::optional<grpc::Status> Gone(PollState& state) {
  absl::MutexLock lock(&state.mu);
  return CallerGone(state.cancelled, state.client_deadline);
}

// Runs the give-back on the executor, or here when the executor refuses work.
void GiveBackTakings(const std::shared_ptr<PollState>& state) {
  if (!state->give_back) return;
  GiveBack give_back = state->give_back;
  if (!state->deps.executor.Submit(give_back)) give_back();
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
  bool cancelled;
  {
    absl::MutexLock lock(&state->mu);
    state->ticket = ticket;
    cancelled = state->cancelled;
  }
  // A cancel that landed before the ticket was recorded could not unpark it.
  if (cancelled) state->deps.waiters.Cancel(ticket);
}

// After an answering try: keep the takings with the reply, unless the caller left while
// the try ran; then they go back and the call answers CANCELLED.
void Answer(const std::shared_ptr<PollState>& state) {
  bool cancelled;
  {
    absl::MutexLock lock(&state->mu);
    cancelled = state->cancelled;
    state->holds_takings = !cancelled;
  }
  if (cancelled) GiveBackTakings(state);
  FinishOnce(*state, cancelled ? grpc::Status::CANCELLED : grpc::Status::OK);
}

// After a try that did not fail: answer, park from `version` on, or answer empty.
void Conclude(const std::shared_ptr<PollState>& state, uint64_t version, bool answered) {
  if (answered) {
    Answer(state);
  } else if (absl::Now() < state->deadline) {
    Park(state, version);
  } else {
    FinishOnce(*state, grpc::Status::OK);
  }
}

void Attempt(const std::shared_ptr<PollState>& state) {
  if (std::optional<grpc::Status> gone = Gone(*state)) {
    FinishOnce(*state, *gone);
    return;
  }
  uint64_t version = state->deps.waiters.Version(state->key);
  absl::StatusOr<bool> answered = state->attempt();
  if (!answered.ok()) {
    FinishOnce(*state, ToGrpcStatus(answered.status()));
  } else {
    Conclude(state, version, *answered);
  }
}

class LongPoll final : public grpc::ServerUnaryReactor {
 public:
  LongPoll(grpc::CallbackServerContext* context, std::shared_ptr<PollState> state)
      : context_(context), state_(std::move(state)) {
    state_->reactor = this;
  }

  // Makes the first try on the executor.
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

  // The reply carried takings but never reached the caller: give them back.
  void OnDone() override {
    bool undelivered;
    {
      absl::MutexLock lock(&state_->mu);
      undelivered = state_->holds_takings && context_->IsCancelled();
    }
    if (undelivered) GiveBackTakings(state_);
    delete this;
  }

  // The reactions only take short locks and hand work to the executor, so gRPC may run
  // them on the thread that saw the call end instead of waking its executor thread.
  bool InternalInlineable() override { return true; }

 private:
  grpc::CallbackServerContext* const context_;
  std::shared_ptr<PollState> state_;
};

}  // namespace

grpc::ServerUnaryReactor* StartParkedCall(grpc::CallbackServerContext* context, ServiceDeps deps,
                                          std::string key, absl::Time deadline,
                                          ParkedAttempt attempt, GiveBack give_back) {
  auto state = std::make_shared<PollState>(deps, std::move(key), deadline, ClientDeadline(*context),
                                           std::move(attempt), std::move(give_back));
  auto* call = new LongPoll(context, std::move(state));
  call->Start();
  return call;
}

std::optional<grpc::Status> DequeueTry::Gone() const { return server::Gone(*state); }

void DequeueTry::Finish(const grpc::Status& status) {
  if (status.ok()) {
    Conclude(state, version, response->messages_size() > 0);
  } else {
    FinishOnce(*state, status);
  }
}

absl::Status DequeueTogether(ServiceDeps deps, std::span<DequeueTry> group) {
  const DequeueTry& first = group.front();
  const uint64_t version = deps.waiters.Version(first.queue);
  storage::DequeueOptions options = first.options;
  options.max_messages = 0;
  for (const DequeueTry& t : group) options.max_messages += t.options.max_messages;
  PGQRS_ASSIGN_OR_RETURN(std::vector<storage::Message> leased,
                         deps.store.Dequeue(first.queue, options));
  auto next = leased.begin();
  for (DequeueTry& t : group) {
    t.version = version;
    for (int i = 0; i < t.options.max_messages && next != leased.end(); ++i, ++next) {
      ToProto(*next, t.response->add_messages());
      t.taken->push_back(*next->lease);
    }
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* StartDequeue(grpc::CallbackServerContext* context, ServiceDeps deps,
                                       std::string queue, storage::DequeueOptions options,
                                       absl::Time deadline, v1::DequeueResponse* response,
                                       CallGroups<DequeueTry>& first_tries) {
  storage::Store* store = &deps.store;
  WaiterRegistry* waiters = &deps.waiters;
  auto taken = std::make_shared<std::vector<storage::Lease>>();
  auto attempt = [store, queue, options, response, taken]() -> absl::StatusOr<bool> {
    absl::StatusOr<std::vector<storage::Message>> leased = store->Dequeue(queue, options);
    if (!leased.ok()) return leased.status();
    for (const storage::Message& m : *leased) {
      ToProto(m, response->add_messages());
      taken->push_back(*m.lease);
    }
    return !leased->empty();
  };
  auto give_back = [store, waiters, queue, taken] {
    // Best effort: a lease that cannot be returned now expires by itself.
    absl::StatusOr<std::vector<storage::LeaseOutcome>> returned =
        store->ReturnLeases(queue, *taken);
    if (returned.ok()) waiters->Notify(queue, static_cast<int64_t>(taken->size()));
  };
  auto state = std::make_shared<PollState>(deps, queue, deadline, ClientDeadline(*context),
                                           std::move(attempt), std::move(give_back));
  auto* call = new LongPoll(context, state);
  // Everything the store call can fail on or treats alike is in the key.
  std::string key = absl::StrCat(
      queue, ":", options.consumer_worker_id, ":",
      options.visibility_timeout ? absl::ToInt64Milliseconds(*options.visibility_timeout) : -1);
  int weight = options.max_messages;
  first_tries.Add(key, {std::move(state), std::move(queue), options, response, std::move(taken)},
                  weight);
  return call;
}

}  // namespace pgqrs::server
