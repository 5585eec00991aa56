#include "server/publish_stream.h"

#include <deque>
#include <memory>
#include <optional>

#include "server/enqueue_checks.h"
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

class PublishStream final : public grpc::ServerBidiReactor<v1::PublishRequest, v1::PublishResponse>,
                            public std::enable_shared_from_this<PublishStream> {
 public:
  PublishStream(ServiceDeps deps, MessageCheck check) : deps_(deps), check_(std::move(check)) {}

  // Keeps the stream alive until gRPC is done with it; store work holds its own reference.
  void Start() {
    self_ = shared_from_this();
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override { End(grpc::Status::CANCELLED, /*answer_read=*/false); }
  void OnDone() override { self_.reset(); }

 private:
  // Ends the stream with `status`; with `answer_read`, every request read is stored and
  // answered first, otherwise requests not yet stored are dropped.
  void End(const grpc::Status& status, bool answer_read);
  void EndLocked(const grpc::Status& status, bool answer_read) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Kick();
  // The stream's one worker: stores what is pending and finishes an ended stream.
  void Pump();
  bool PumpOnce();
  void WriteNext();
  // Starts the next read if the stream reads and has room for more.
  void ReadIfRoom();

  const ServiceDeps deps_;
  const MessageCheck check_;
  std::shared_ptr<PublishStream> self_;
  v1::PublishRequest request_;        // the read in flight
  v1::PublishResponse write_buffer_;  // the write in flight

  absl::Mutex mu_;
  std::deque<PendingPublish> pending_ ABSL_GUARDED_BY(mu_);
  int64_t pending_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int unanswered_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<v1::PublishResponse> outbox_ ABSL_GUARDED_BY(mu_);
  bool reading_ ABSL_GUARDED_BY(mu_) = true;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool pumping_ ABSL_GUARDED_BY(mu_) = false;
  bool pump_again_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> ending_ ABSL_GUARDED_BY(mu_);
  bool answer_read_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

void PublishStream::OnReadDone(bool ok) {
  if (!ok) {
    End(grpc::Status::OK, /*answer_read=*/true);  // the client half-closed or left
    return;
  }
  if (absl::Status allowed = check_(request_); !allowed.ok()) {
    End(ToGrpcStatus(allowed), /*answer_read=*/false);
    return;
  }
  PendingPublish pending{request_.sequence(), request_.queue(), request_.producer_worker_id(),
                         CheckNewMessages(request_.queue(), request_.messages(),
                                          request_.producer_worker_id(), deps_.config.limits),
                         static_cast<int64_t>(request_.ByteSizeLong())};
  {
    absl::MutexLock lock(&mu_);
    reading_ = false;  // request_ is free for the next read only now
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
    if (reading_ || ending_ || !room) return;
    reading_ = true;
  }
  StartRead(&request_);
}

void PublishStream::End(const grpc::Status& status, bool answer_read) {
  {
    absl::MutexLock lock(&mu_);
    EndLocked(status, answer_read);
  }
  Kick();
}

void PublishStream::EndLocked(const grpc::Status& status, bool answer_read) {
  if (finished_) return;
  if (!ending_) {
    ending_ = status;
    answer_read_ = answer_read;
  }
  answer_read_ = answer_read_ && answer_read;
  if (!answer_read_) {
    pending_.clear();
    outbox_.clear();
  }
}

void PublishStream::Kick() {
  {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    if (pumping_) {
      pump_again_ = true;
      return;
    }
    pumping_ = true;
  }
  std::shared_ptr<PublishStream> self = shared_from_this();
  if (deps_.executor.Submit([self] { self->Pump(); })) return;
  {
    absl::MutexLock lock(&mu_);  // the executor is saturated: end without storing more
    EndLocked(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, kOverloaded), false);
  }
  Pump();
}

void PublishStream::Pump() {
  while (PumpOnce()) {
  }
}

bool PublishStream::PumpOnce() {
  std::vector<PendingPublish> batch;
  {
    absl::MutexLock lock(&mu_);
    pump_again_ = false;
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
  bool finish;
  bool again = false;
  grpc::Status status;
  {
    absl::MutexLock lock(&mu_);
    pending_bytes_ -= stored_bytes;
    if (!ending_ || answer_read_) {
      for (v1::PublishResponse& r : responses) outbox_.push_back(std::move(r));
    }
    finish = ending_ && pending_.empty() && outbox_.empty() && !writing_;
    if (finish) {
      finished_ = true;
      status = *ending_;
    } else {
      pumping_ = again = pump_again_;
    }
  }
  if (finish) {
    Finish(status);
    return false;
  }
  WriteNext();
  ReadIfRoom();
  return again;
}

void PublishStream::WriteNext() {
  {
    absl::MutexLock lock(&mu_);
    if (writing_ || outbox_.empty() || finished_) return;
    writing_ = true;
    write_buffer_ = std::move(outbox_.front());
    outbox_.pop_front();
  }
  StartWrite(&write_buffer_);
}

void PublishStream::OnWriteDone(bool ok) {
  bool ending;
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    --unanswered_;
    if (!ok) EndLocked(grpc::Status::CANCELLED, /*answer_read=*/false);
    ending = ending_.has_value();
  }
  WriteNext();
  ReadIfRoom();
  if (ending) Kick();  // an ending stream may finish now
}

}  // namespace

grpc::ServerBidiReactor<v1::PublishRequest, v1::PublishResponse>* StartPublishStream(
    grpc::CallbackServerContext* /*context*/, ServiceDeps deps, MessageCheck check) {
  auto stream = std::make_shared<PublishStream>(deps, std::move(check));
  stream->Start();
  return stream.get();
}

}  // namespace pgqrs::server
