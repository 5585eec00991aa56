#include "server/consume_stream.h"

#include <deque>
#include <memory>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "server/consume_settle.h"
#include "server/convert.h"
#include "server/receipt.h"
#include "server/status.h"
#include "server/validation.h"

namespace pgqrs::server {
namespace {

// Credits one stream may hold: bounds the leases a single client can pin.
constexpr int64_t kMaxCredits = 100000;
// Requests with receipt work waiting for the store before the stream stops reading.
constexpr size_t kMaxWaitingSettlements = 64;
// The waiter key of streams that wait for credits, not messages. Not a valid queue name,
// so no enqueue wakes them; parking there still lets Shutdown end them at once.
constexpr char kWaitingForCredits[] = "consume streams:waiting for credits";

// What a stream does after a lease: lease again, or park until something changes.
enum class NextStep { kLeaseMore, kWaitForMessages, kWaitForCredits };

struct Subscription {
  std::string queue;
  storage::DequeueOptions options;
  bool keep_leases_on_close = false;
};

absl::StatusOr<Subscription> OpenSubscription(const v1::ConsumeRequest& request,
                                              const Limits& limits) {
  Subscription sub;
  PGQRS_RETURN_IF_ERROR(CheckName("queue", request.queue()));
  sub.queue = request.queue();
  if (request.visibility_timeout_ms() != 0) {
    PGQRS_ASSIGN_OR_RETURN(sub.options.visibility_timeout,
                           CheckMillis("visibility_timeout_ms", request.visibility_timeout_ms(),
                                       limits.max_visibility_timeout));
  }
  if (request.consumer_worker_id() < 0) {
    return absl::InvalidArgumentError("consumer_worker_id: must not be negative");
  }
  sub.options.consumer_worker_id = request.consumer_worker_id();
  sub.keep_leases_on_close = request.keep_leases_on_close();
  return sub;
}

// A lease this stream took: it holds one credit until settled here or the stream ends.
struct HeldLease {
  storage::Lease lease;
  // Written to the client; undelivered leases go back as if never taken.
  bool delivered = false;
};

class ConsumeStream final : public grpc::ServerBidiReactor<v1::ConsumeRequest, v1::ConsumeResponse>,
                            public std::enable_shared_from_this<ConsumeStream> {
 public:
  ConsumeStream(ServiceDeps deps, MessageCheck check) : deps_(deps), check_(std::move(check)) {}

  // Keeps the stream alive until gRPC is done with it (OnDone); store work and parked
  // waits hold their own references.
  void Start() {
    self_ = shared_from_this();
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override { End(grpc::Status::CANCELLED, /*answer_settled=*/false); }
  void OnDone() override { self_.reset(); }

 private:
  absl::Status Handle(const v1::ConsumeRequest& request);
  // Ends the stream with `status` once its work is done; with `answer_settled`, receipt
  // results still go out first (a half-close), otherwise nothing more is written.
  void End(const grpc::Status& status, bool answer_settled);
  void EndLocked(const grpc::Status& status, bool answer_settled)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Runs Pump on the executor unless it runs already (then it runs again).
  void Kick();
  // The stream's one worker: settles receipts, leases within the credits, parks when
  // nothing is visible, and ends the stream. Never runs twice at once.
  void Pump();
  // One pass of Pump; false when Pump may stop.
  bool PumpOnce();
  absl::Status SettleWaiting(const std::string& queue, int64_t worker_id);
  // Leases up to the free credits (at most --max_batch at once). `version` is the
  // queue's waiter version from before it looked, for parking when it ran dry.
  absl::StatusOr<NextStep> Lease(const Subscription& sub, uint64_t* version);
  void Park(const std::string& key, uint64_t version);
  void CancelParkedWait();
  void OnWake(WakeReason reason);
  bool CanFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !writing_ && outbox_.empty() && settlements_.empty();
  }
  void ReleaseAndFinish();
  // Writes the next response unless a write is in flight.
  void WriteNext();

  const ServiceDeps deps_;
  const MessageCheck check_;
  std::shared_ptr<ConsumeStream> self_;
  // The read in flight; only gRPC's read callbacks touch it.
  v1::ConsumeRequest request_;
  // The write in flight; only the writer (writing_ set) touches it.
  v1::ConsumeResponse write_buffer_;

  absl::Mutex mu_;
  std::optional<Subscription> subscription_ ABSL_GUARDED_BY(mu_);
  int64_t credits_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, HeldLease> held_ ABSL_GUARDED_BY(mu_);  // by receipt
  std::deque<Settlement> settlements_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::ConsumeResponse> outbox_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;
  bool pumping_ ABSL_GUARDED_BY(mu_) = false;
  bool pump_again_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<WaiterRegistry::Ticket> ticket_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> ending_ ABSL_GUARDED_BY(mu_);
  bool answer_settled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

void ConsumeStream::OnReadDone(bool ok) {
  if (!ok) {
    End(grpc::Status::OK, /*answer_settled=*/true);  // the client half-closed or left
    return;
  }
  if (absl::Status handled = Handle(request_); !handled.ok()) {
    End(ToGrpcStatus(handled), /*answer_settled=*/false);
    return;
  }
  bool read_more;
  {
    absl::MutexLock lock(&mu_);
    read_more = !ending_ && settlements_.size() < kMaxWaitingSettlements;
    read_paused_ = !read_more && !ending_;
  }
  if (read_more) StartRead(&request_);
  Kick();
}

absl::Status ConsumeStream::Handle(const v1::ConsumeRequest& request) {
  std::optional<Subscription> current;
  {
    absl::MutexLock lock(&mu_);  // only this read callback sets it; reads come one at a time
    current = subscription_;
  }
  std::optional<Subscription> opened;
  if (!current) {
    PGQRS_RETURN_IF_ERROR(check_(request));
    PGQRS_ASSIGN_OR_RETURN(opened, OpenSubscription(request, deps_.config.limits));
  } else if (!request.queue().empty() && request.queue() != current->queue) {
    return absl::InvalidArgumentError(
        "queue: a stream consumes the one queue its first request named");
  }
  int64_t worker_id = (current ? *current : *opened).options.consumer_worker_id;
  if (request.add_credits() < 0) {
    return absl::InvalidArgumentError("add_credits: must not be negative");
  }
  PGQRS_ASSIGN_OR_RETURN(std::optional<Settlement> settlement,
                         ParseSettlement(request, worker_id, deps_.config.limits));
  absl::MutexLock lock(&mu_);
  if (opened) subscription_ = std::move(opened);
  if (credits_ + request.add_credits() > kMaxCredits) {
    return absl::InvalidArgumentError(
        absl::StrCat("add_credits: a stream holds at most ", kMaxCredits, " credits"));
  }
  credits_ += request.add_credits();
  if (settlement) settlements_.push_back(*std::move(settlement));
  return absl::OkStatus();
}

void ConsumeStream::End(const grpc::Status& status, bool answer_settled) {
  {
    absl::MutexLock lock(&mu_);
    EndLocked(status, answer_settled);
  }
  Kick();
}

void ConsumeStream::EndLocked(const grpc::Status& status, bool answer_settled) {
  if (finished_) return;
  if (!ending_) {
    ending_ = status;
    answer_settled_ = answer_settled;
  }
  answer_settled_ = answer_settled_ && answer_settled;
  // Pushes not yet written stay undelivered; their leases go back when the stream ends.
  std::erase_if(outbox_, [&](const v1::ConsumeResponse& r) {
    return !answer_settled_ || r.messages_size() > 0;
  });
}

void ConsumeStream::Kick() {
  {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    if (pumping_) {
      pump_again_ = true;
      return;
    }
    pumping_ = true;
  }
  std::shared_ptr<ConsumeStream> self = shared_from_this();
  if (deps_.executor.Submit([self] { self->Pump(); })) return;
  // The executor is saturated: end the stream from this thread, leases going back.
  {
    absl::MutexLock lock(&mu_);
    EndLocked(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, kOverloaded), false);
  }
  Pump();
}

void ConsumeStream::Pump() {
  while (PumpOnce()) {
  }
}

bool ConsumeStream::PumpOnce() {
  CancelParkedWait();  // this pass replaces any parked wait
  std::optional<Subscription> sub;
  bool resume_read;
  {
    absl::MutexLock lock(&mu_);
    pump_again_ = false;
    sub = subscription_;
    resume_read = read_paused_ && !ending_;
    read_paused_ = read_paused_ && !resume_read;
  }
  if (resume_read) StartRead(&request_);
  if (sub) {
    absl::Status settled = SettleWaiting(sub->queue, sub->options.consumer_worker_id);
    if (!settled.ok()) End(ToGrpcStatus(settled), /*answer_settled=*/false);
  }
  bool ending;
  bool can_finish;
  {
    absl::MutexLock lock(&mu_);
    ending = ending_.has_value();
    can_finish = CanFinishLocked();
  }
  if (ending) {
    if (can_finish) {
      ReleaseAndFinish();
      return false;
    }
    absl::MutexLock lock(&mu_);  // a write or settlement is in flight; its end kicks again
    pumping_ = pump_again_;
    return pump_again_;
  }
  if (!sub) {
    absl::MutexLock lock(&mu_);  // not opened yet: its first request kicks again
    pumping_ = pump_again_;
    return pump_again_;
  }
  uint64_t version = 0;
  absl::StatusOr<NextStep> next = Lease(*sub, &version);
  if (!next.ok()) {
    End(ToGrpcStatus(next.status()), /*answer_settled=*/false);
    return true;
  }
  // Park while still pumping: a wake that fires inside Park only asks for another pass.
  switch (*next) {
    case NextStep::kLeaseMore:
      return true;
    case NextStep::kWaitForMessages:
      Park(sub->queue, version);
      break;
    case NextStep::kWaitForCredits:
      Park(kWaitingForCredits, deps_.waiters.Version(kWaitingForCredits));
      break;
  }
  absl::MutexLock lock(&mu_);
  pumping_ = pump_again_;
  return pump_again_;
}

absl::Status ConsumeStream::SettleWaiting(const std::string& queue, int64_t worker_id) {
  std::vector<Settlement> batch;
  {
    absl::MutexLock lock(&mu_);
    batch.assign(std::make_move_iterator(settlements_.begin()),
                 std::make_move_iterator(settlements_.end()));
    settlements_.clear();
  }
  if (batch.empty()) return absl::OkStatus();
  PGQRS_ASSIGN_OR_RETURN(Settled settled, Settle(deps_.store, queue, worker_id, batch));
  if (settled.visible_again > 0) deps_.waiters.Notify(queue, settled.visible_again);
  {
    absl::MutexLock lock(&mu_);
    for (const std::string& receipt : settled.finished_receipts) held_.erase(receipt);
    if (!ending_ || answer_settled_) {
      for (v1::ConsumeResponse& r : settled.responses) outbox_.push_back(std::move(r));
    }
  }
  WriteNext();
  return absl::OkStatus();
}

absl::StatusOr<NextStep> ConsumeStream::Lease(const Subscription& sub, uint64_t* version) {
  storage::DequeueOptions options = sub.options;
  int64_t free_credits;
  {
    absl::MutexLock lock(&mu_);
    free_credits = credits_ - static_cast<int64_t>(held_.size());
    if (free_credits <= 0) return NextStep::kWaitForCredits;
    options.max_messages =
        static_cast<int32_t>(std::min<int64_t>(free_credits, deps_.config.limits.max_batch));
  }
  *version = deps_.waiters.Version(sub.queue);
  PGQRS_ASSIGN_OR_RETURN(std::vector<storage::Message> leased,
                         deps_.store.Dequeue(sub.queue, options));
  if (!leased.empty()) {
    v1::ConsumeResponse push;
    absl::MutexLock lock(&mu_);
    for (const storage::Message& m : leased) {
      ToProto(m, push.add_messages());
      held_.emplace(EncodeReceipt(*m.lease), HeldLease{*m.lease});
    }
    // A stream that ended meanwhile keeps them as undelivered; the end returns them.
    if (!ending_) outbox_.push_back(std::move(push));
  }
  WriteNext();
  if (static_cast<int32_t>(leased.size()) < options.max_messages) {
    return NextStep::kWaitForMessages;
  }
  return leased.size() < static_cast<size_t>(free_credits) ? NextStep::kLeaseMore
                                                           : NextStep::kWaitForCredits;
}

void ConsumeStream::Park(const std::string& key, uint64_t version) {
  std::shared_ptr<ConsumeStream> self = shared_from_this();
  WaiterRegistry::Ticket ticket = deps_.waiters.Park(
      key, version, absl::InfiniteFuture(), [self](WakeReason reason) { self->OnWake(reason); });
  absl::MutexLock lock(&mu_);
  ticket_ = ticket;
}

void ConsumeStream::CancelParkedWait() {
  std::optional<WaiterRegistry::Ticket> ticket;
  {
    absl::MutexLock lock(&mu_);
    ticket.swap(ticket_);
  }
  if (ticket) deps_.waiters.Cancel(*ticket);
}

void ConsumeStream::OnWake(WakeReason reason) {
  switch (reason) {
    case WakeReason::kNotified:
    case WakeReason::kDeadline:
      Kick();
      return;
    case WakeReason::kCancelled:
      return;  // the stream replaced or ended its wait itself
    case WakeReason::kShutdown:
      End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is shutting down"),
          /*answer_settled=*/true);
      return;
  }
}

void ConsumeStream::ReleaseAndFinish() {
  std::vector<storage::Lease> delivered;
  std::vector<storage::Lease> undelivered;
  std::optional<Subscription> sub;
  grpc::Status status;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [receipt, held] : held_) {
      (held.delivered ? delivered : undelivered).push_back(held.lease);
    }
    held_.clear();
    sub = subscription_;
    status = *ending_;
    finished_ = true;
  }
  CancelParkedWait();
  if (sub) {
    // Best effort: a lease that cannot be released now expires by itself.
    int64_t released = 0;
    if (!undelivered.empty() && deps_.store.ReturnLeases(sub->queue, undelivered).ok()) {
      released += static_cast<int64_t>(undelivered.size());
    }
    if (!delivered.empty() && !sub->keep_leases_on_close &&
        deps_.store.Nack(sub->queue, delivered, absl::ZeroDuration()).ok()) {
      released += static_cast<int64_t>(delivered.size());
    }
    if (released > 0) deps_.waiters.Notify(sub->queue, released);
  }
  Finish(status);
}

void ConsumeStream::WriteNext() {
  {
    absl::MutexLock lock(&mu_);
    if (writing_ || outbox_.empty() || finished_) return;
    writing_ = true;
    write_buffer_ = std::move(outbox_.front());
    outbox_.pop_front();
  }
  StartWrite(&write_buffer_);
}

void ConsumeStream::OnWriteDone(bool ok) {
  bool ending;
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    for (const v1::Message& m : write_buffer_.messages()) {
      auto held = held_.find(m.receipt());
      if (ok && held != held_.end()) held->second.delivered = true;
    }
    if (!ok) EndLocked(grpc::Status::CANCELLED, /*answer_settled=*/false);
    ending = ending_.has_value();
  }
  WriteNext();
  if (ending) Kick();  // an ending stream may finish now
}

}  // namespace

grpc::ServerBidiReactor<v1::ConsumeRequest, v1::ConsumeResponse>* StartConsumeStream(
    grpc::CallbackServerContext* /*context*/, ServiceDeps deps, MessageCheck check) {
  auto stream = std::make_shared<ConsumeStream>(deps, std::move(check));
  stream->Start();
  return stream.get();
}

}  // namespace pgqrs::server
