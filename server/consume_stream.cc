#include "server/consume_stream.h"

#include <deque>
#include <memory>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "server/consume_settle.h"
#include "server/convert.h"
#include "server/pumped_stream.h"
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

class ConsumeStream final : public PumpedStream<v1::ConsumeRequest, v1::ConsumeResponse> {
 public:
  ConsumeStream(ServiceDeps deps, MessageCheck check)
      : PumpedStream(deps.executor), deps_(deps), check_(std::move(check)) {}

  void OnReadDone(bool ok) override;

 private:
  absl::Status Handle(const v1::ConsumeRequest& request);

  // The pump's pass: settles receipts, leases within the credits, parks when nothing is
  // visible.
  bool PumpOnce() override;
  bool OwesWorkLocked() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !settlements_.empty();
  }
  // Pushes not yet written stay undelivered; their leases go back when the stream ends.
  void OnEndLocked(bool answer, std::deque<v1::ConsumeResponse>& outbox) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnWrittenLocked(const v1::ConsumeResponse& response, bool ok) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Returns the leases the stream still holds (see the contract in the header).
  void OnFinish() override;

  absl::Status SettleWaiting(const std::string& queue, int64_t worker_id);
  // Leases up to the free credits (at most --max_batch at once). `version` is the
  // queue's waiter version from before it looked, for parking when it ran dry.
  absl::StatusOr<NextStep> Lease(const Subscription& sub, uint64_t* version);
  void Park(const std::string& key, uint64_t version);
  void CancelParkedWait();
  void OnWake(WakeReason reason);

  const ServiceDeps deps_;
  const MessageCheck check_;

  std::optional<Subscription> subscription_ ABSL_GUARDED_BY(mu_);
  int64_t credits_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, HeldLease> held_ ABSL_GUARDED_BY(mu_);  // by receipt
  std::deque<Settlement> settlements_ ABSL_GUARDED_BY(mu_);
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<WaiterRegistry::Ticket> ticket_ ABSL_GUARDED_BY(mu_);
};

void ConsumeStream::OnReadDone(bool ok) {
  if (!ok) {
    End(grpc::Status::OK, /*answer=*/true);  // the client half-closed or left
    return;
  }
  if (absl::Status handled = Handle(request()); !handled.ok()) {
    End(ToGrpcStatus(handled), /*answer=*/false);
    return;
  }
  bool read_more;
  {
    absl::MutexLock lock(&mu_);
    read_more = !EndingLocked() && settlements_.size() < kMaxWaitingSettlements;
    read_paused_ = !read_more && !EndingLocked();
  }
  if (read_more) ReadNext();
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

void ConsumeStream::OnEndLocked(bool /*answer*/, std::deque<v1::ConsumeResponse>& outbox) {
  std::erase_if(outbox, [](const v1::ConsumeResponse& r) { return r.messages_size() > 0; });
}

bool ConsumeStream::PumpOnce() {
  CancelParkedWait();  // this pass replaces any parked wait
  std::optional<Subscription> sub;
  bool resume_read;
  {
    absl::MutexLock lock(&mu_);
    sub = subscription_;
    resume_read = read_paused_ && !EndingLocked();
    read_paused_ = read_paused_ && !resume_read;
  }
  if (resume_read) ReadNext();
  if (!sub) return false;  // not opened yet: its first request kicks again
  absl::Status settled = SettleWaiting(sub->queue, sub->options.consumer_worker_id);
  if (!settled.ok()) End(ToGrpcStatus(settled), /*answer=*/false);
  {
    absl::MutexLock lock(&mu_);
    // An ending stream leases no more; the pump finishes it once its writes are done.
    if (EndingLocked()) return false;
  }
  uint64_t version = 0;
  absl::StatusOr<NextStep> next = Lease(*sub, &version);
  if (!next.ok()) {
    End(ToGrpcStatus(next.status()), /*answer=*/false);
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
  return false;
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
    for (v1::ConsumeResponse& r : settled.responses) QueueLocked(std::move(r));
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
    if (!EndingLocked()) QueueLocked(std::move(push));
  }
  WriteNext();
  if (static_cast<int32_t>(leased.size()) < options.max_messages) {
    return NextStep::kWaitForMessages;
  }
  return leased.size() < static_cast<size_t>(free_credits) ? NextStep::kLeaseMore
                                                           : NextStep::kWaitForCredits;
}

void ConsumeStream::Park(const std::string& key, uint64_t version) {
  // The parked wait holds a reference: the stream lives until its wait is woken or cancelled.
  WaiterRegistry::Ticket ticket =
      deps_.waiters.Park(key, version, absl::InfiniteFuture(),
                         [self = shared_from_this(), this](WakeReason reason) { OnWake(reason); });
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
          /*answer=*/true);
      return;
  }
}

void ConsumeStream::OnFinish() {
  std::vector<storage::Lease> delivered;
  std::vector<storage::Lease> undelivered;
  std::optional<Subscription> sub;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [receipt, held] : held_) {
      (held.delivered ? delivered : undelivered).push_back(held.lease);
    }
    held_.clear();
    sub = subscription_;
  }
  CancelParkedWait();
  if (!sub) return;
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

void ConsumeStream::OnWrittenLocked(const v1::ConsumeResponse& response, bool ok) {
  if (!ok) return;
  for (const v1::Message& m : response.messages()) {
    auto held = held_.find(m.receipt());
    if (held != held_.end()) held->second.delivered = true;
  }
}

}  // namespace

grpc::ServerBidiReactor<v1::ConsumeRequest, v1::ConsumeResponse>* StartConsumeStream(
    grpc::CallbackServerContext* /*context*/, ServiceDeps deps, MessageCheck check) {
  auto stream = std::make_shared<ConsumeStream>(deps, std::move(check));
  stream->Start();
  return stream.get();
}

}  // namespace pgqrs::server
