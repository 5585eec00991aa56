#include "server/publish_stream.h"

#include <deque>
#include <memory>
#include <optional>

#include "server/enqueue_checks.h"
#include "server/pumped_stream.h"
#include "server/status.h"

namespace pgqrs::server {
namespace {

// Requests read and not yet answered before the stream stops reading.
constexpr int kMaxUnanswered = 1024;

struct PendingPublish {
  int64_t sequence = 0;
  std::string queue;
  int64_t producer_worker_id = 0;
  // The checked messages, or the error the request is answered with.
  absl::StatusOr<std::vector<storage::NewMessage>> messages;
  int64_t bytes = 0;
};

bool Mergeable(const PendingPublish& a, const PendingPublish& b) {
  return a.messages.ok() && b.messages.ok() && a.queue == b.queue &&
         a.producer_worker_id == b.producer_worker_id;
}

v1::PublishResponse Failed(int64_t sequence, const absl::Status& status) {
  v1::PublishResponse response;
  response.set_sequence(sequence);
  response.set_error_code(static_cast<int32_t>(status.code()));
  response.set_error_message(std::string(status.message()));
  return response;
}

// Stores `group` (mergeable requests) in one call; one response per request.
std::vector<v1::PublishResponse> StoreGroup(ServiceDeps deps, std::span<PendingPublish> group) {
  std::vector<storage::NewMessage> all;
  for (PendingPublish& p : group) {
    if (!p.messages.ok()) continue;
    std::move(p.messages->begin(), p.messages->end(), std::back_inserter(all));
  }
  std::vector<v1::PublishResponse> responses;
  absl::StatusOr<std::vector<int64_t>> ids;
  if (!all.empty()) {
    ids = deps.store.Enqueue(group.front().queue, all, group.front().producer_worker_id);
    if (ids.ok()) deps.waiters.Notify(group.front().queue, static_cast<int64_t>(ids->size()));
  }
  size_t next = 0;
  for (const PendingPublish& p : group) {
    if (!p.messages.ok() || !ids.ok()) {
      responses.push_back(Failed(p.sequence, p.messages.ok() ? ids.status() : p.messages.status()));
      continue;
    }
    v1::PublishResponse& response = responses.emplace_back();
    response.set_sequence(p.sequence);
    for (size_t i = 0; i < p.messages->size(); ++i) response.add_message_ids((*ids)[next++]);
  }
  return responses;
}

class PublishStream final : public PumpedStream<v1::PublishRequest, v1::PublishResponse> {
 public:
  PublishStream(ServiceDeps deps, MessageCheck check)
      : PumpedStream(deps.executor), deps_(deps), check_(std::move(check)) {}

  void OnReadDone(bool ok) override;

 private:
  // The pump's pass: stores what is pending, merged into as few store calls as it may.
  bool PumpOnce() override;
  bool OwesWorkLocked() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !pending_.empty(); }
  // An end without answers drops the requests not yet stored.
  void OnEndLocked(bool answer, std::deque<v1::PublishResponse>& outbox) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnWrittenLocked(const v1::PublishResponse& response, bool ok) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AfterWrite() override { ReadIfRoom(); }
  // Starts the next read if the stream reads and has room for more.
  void ReadIfRoom();

  const ServiceDeps deps_;
  const MessageCheck check_;

  std::deque<PendingPublish> pending_ ABSL_GUARDED_BY(mu_);
  int64_t pending_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int unanswered_ ABSL_GUARDED_BY(mu_) = 0;
  bool reading_ ABSL_GUARDED_BY(mu_) = true;
};

void PublishStream::OnReadDone(bool ok) {
  if (!ok) {
    End(grpc::Status::OK, /*answer=*/true);  // the client half-closed or left
    return;
  }
  const v1::PublishRequest& incoming = request();
  if (absl::Status allowed = check_(incoming); !allowed.ok()) {
    End(ToGrpcStatus(allowed), /*answer=*/false);
    return;
  }
  PendingPublish pending{incoming.sequence(), incoming.queue(), incoming.producer_worker_id(),
                         CheckNewMessages(incoming.queue(), incoming.messages(),
                                          incoming.producer_worker_id(), deps_.config.limits),
                         static_cast<int64_t>(incoming.ByteSizeLong())};
  {
    absl::MutexLock lock(&mu_);
    reading_ = false;  // the request is free for the next read only now
    pending_bytes_ += pending.bytes;
    ++unanswered_;
    pending_.push_back(std::move(pending));
  }
  ReadIfRoom();
  Kick();
}

void PublishStream::ReadIfRoom() {
  {
    absl::MutexLock lock(&mu_);
    bool room =
        unanswered_ < kMaxUnanswered && pending_bytes_ < deps_.config.limits.max_request_bytes;
    if (reading_ || EndingLocked() || !room) return;
    reading_ = true;
  }
  ReadNext();
}

void PublishStream::OnEndLocked(bool answer, std::deque<v1::PublishResponse>& /*outbox*/) {
  if (!answer) pending_.clear();
}

bool PublishStream::PumpOnce() {
  std::vector<PendingPublish> batch;
  {
    absl::MutexLock lock(&mu_);
    batch.assign(std::make_move_iterator(pending_.begin()),
                 std::make_move_iterator(pending_.end()));
    pending_.clear();
  }
  std::vector<v1::PublishResponse> responses;
  int64_t stored_bytes = 0;
  for (size_t start = 0; start < batch.size();) {
    size_t end = start + 1;
    size_t messages = batch[start].messages.ok() ? batch[start].messages->size() : 0;
    while (end < batch.size() && Mergeable(batch[start], batch[end]) &&
           messages + batch[end].messages->size() <=
               static_cast<size_t>(deps_.config.limits.max_batch)) {
      messages += batch[end++].messages->size();
    }
    for (size_t i = start; i < end; ++i) stored_bytes += batch[i].bytes;
    for (v1::PublishResponse& r : StoreGroup(deps_, std::span(batch).subspan(start, end - start))) {
      responses.push_back(std::move(r));
    }
    start = end;
  }
  {
    absl::MutexLock lock(&mu_);
    pending_bytes_ -= stored_bytes;
    for (v1::PublishResponse& r : responses) QueueLocked(std::move(r));
  }
  WriteNext();
  ReadIfRoom();
  return false;
}

void PublishStream::OnWrittenLocked(const v1::PublishResponse& /*response*/, bool /*ok*/) {
  --unanswered_;
}

}  // namespace

grpc::ServerBidiReactor<v1::PublishRequest, v1::PublishResponse>* StartPublishStream(
    grpc::CallbackServerContext* /*context*/, ServiceDeps deps, MessageCheck check) {
  auto stream = std::make_shared<PublishStream>(deps, std::move(check));
  stream->Start();
  return stream.get();
}

}  // namespace pgqrs::server
