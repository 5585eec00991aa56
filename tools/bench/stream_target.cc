#include "tools/bench/stream_target.h"

#include <unistd.h>

#include <deque>
#include <future>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "proto/pgqrs/v1/queue.grpc.pb.h"
#include "tools/bench/channels.h"
#include "tools/bench/payload.h"

namespace pgqrs::bench {
namespace {

// A bidirectional stream shared by many threads: each Start writes one request and
// returns the answer to come; a reader thread fulfils it when the response with the same
// key arrives.
template <typename Request, typename Response>
class SharedStream {
 public:
  using Opener = std::unique_ptr<grpc::ClientReaderWriter<Request, Response>> (
      v1::QueueService::Stub::*)(grpc::ClientContext*);
  // Returns the key a response answers, or nothing for a response nobody waits for
  // (handled by `on_other`).
  using KeyOf = std::function<std::optional<int64_t>(const Response&)>;
  // The outcome a response reports for its request.
  using StatusOf = std::function<absl::Status(const Response&)>;

  SharedStream(std::shared_ptr<grpc::Channel> channel, Opener open, KeyOf key_of,
               StatusOf status_of, std::function<void(Response&)> on_other)
      : stub_(v1::QueueService::NewStub(channel)),
        key_of_(std::move(key_of)),
        status_of_(std::move(status_of)),
        on_other_(std::move(on_other)) {
    stream_ = ((*stub_).*open)(&context_);
    reader_ = std::thread([this] { ReadLoop(); });
  }

  ~SharedStream() {
    {
      absl::MutexLock lock(&write_mu_);
      stream_->WritesDone();
    }
    reader_.join();
    stream_->Finish().ok();  // the run's errors were counted per call
  }

  int64_t NextKey() { return next_key_.fetch_add(1); }

  // Writes `request` (whose key is `key`) and returns its answer to come.
  std::future<Answer> Start(int64_t key, const Request& request) {
    std::future<Answer> answer;
    {
      absl::MutexLock lock(&mu_);
      if (closed_) return Closed();
      answer = waiting_[key].get_future();
    }
    bool written;
    {
      absl::MutexLock lock(&write_mu_);
      written = stream_->Write(request);
    }
    if (!written) Fulfil(key, absl::UnavailableError("stream closed"));
    return answer;
  }

  // Writes a request nobody waits an answer for.
  bool Send(const Request& request) {
    absl::MutexLock lock(&write_mu_);
    return stream_->Write(request);
  }

 private:
  static std::future<Answer> Closed() {
    std::promise<Answer> answer;
    answer.set_value({absl::UnavailableError("stream closed"), MonotonicNanos()});
    return answer.get_future();
  }

  void Fulfil(int64_t key, absl::Status status) {
    int64_t now = MonotonicNanos();
    absl::MutexLock lock(&mu_);
    auto it = waiting_.find(key);
    if (it == waiting_.end()) return;  // answered already
    it->second.set_value({std::move(status), now});
    waiting_.erase(it);
  }

  void ReadLoop() {
    Response response;
    while (stream_->Read(&response)) {
      std::optional<int64_t> key = key_of_(response);
      if (key) {
        Fulfil(*key, status_of_(response));
      } else {
        on_other_(response);
      }
    }
    int64_t now = MonotonicNanos();
    absl::MutexLock lock(&mu_);
    closed_ = true;
    for (auto& [key, answer] : waiting_) {
      answer.set_value({absl::UnavailableError("stream closed"), now});
    }
    waiting_.clear();
  }

  std::unique_ptr<v1::QueueService::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<Request, Response>> stream_;
  const KeyOf key_of_;
  const StatusOf status_of_;
  const std::function<void(Response&)> on_other_;
  std::atomic<int64_t> next_key_{1};
  absl::Mutex write_mu_;
  absl::Mutex mu_;
  absl::flat_hash_map<int64_t, std::promise<Answer>> waiting_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::thread reader_;
};

using PublishStream = SharedStream<v1::PublishRequest, v1::PublishResponse>;
using ConsumeStream = SharedStream<v1::ConsumeRequest, v1::ConsumeResponse>;

// Messages the Consume stream pushed and no consumer has taken yet.
class Inbox {
 public:
  void Add(v1::ConsumeResponse& pushed) {
    absl::MutexLock lock(&mu_);
    for (v1::Message& m : *pushed.mutable_messages()) {
      messages_.push_back({std::move(*m.mutable_payload_json()), std::move(*m.mutable_receipt())});
    }
  }

  std::vector<Leased> Take(int max, absl::Duration wait) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(
                             +[](std::deque<Leased>* m) { return !m->empty(); }, &messages_),
                         wait);
    std::vector<Leased> taken;
    while (!messages_.empty() && static_cast<int>(taken.size()) < max) {
      taken.push_back(std::move(messages_.front()));
      messages_.pop_front();
    }
    return taken;
  }

 private:
  absl::Mutex mu_;
  std::deque<Leased> messages_ ABSL_GUARDED_BY(mu_);
};

absl::Status AckStatus(const v1::ConsumeResponse& response) {
  for (int r : response.ack_results()) {
    if (r == v1::RECEIPT_RESULT_LEASE_LOST) return absl::FailedPreconditionError("lease lost");
    if (r != v1::RECEIPT_RESULT_OK) return absl::NotFoundError("receipt not found");
  }
  return absl::OkStatus();
}

absl::Status PublishStatus(const v1::PublishResponse& r) {
  return absl::Status(static_cast<absl::StatusCode>(r.error_code()), r.error_message());
}

class StreamSession final : public Session {
 public:
  StreamSession(PublishStream& publish, ConsumeStream& consume, Inbox& inbox, std::string queue)
      : publish_(publish), consume_(consume), inbox_(inbox), queue_(std::move(queue)) {}

  absl::Status Enqueue(std::span<const std::string> payloads) override {
    return StartEnqueue(payloads).get().status;
  }

  absl::StatusOr<std::vector<Leased>> Dequeue(int max, absl::Duration wait) override {
    return inbox_.Take(max, wait);
  }

  absl::Status Ack(std::span<const Leased> messages) override {
    return StartAck(messages).get().status;
  }

  std::future<Answer> StartEnqueue(std::span<const std::string> payloads) override {
    v1::PublishRequest request;
    int64_t sequence = publish_.NextKey();
    request.set_sequence(sequence);
    request.set_queue(queue_);
    for (const std::string& p : payloads) request.add_messages()->set_payload_json(p);
    return publish_.Start(sequence, request);
  }

  std::future<Answer> StartAck(std::span<const Leased> messages) override {
    v1::ConsumeRequest request;
    int64_t id = consume_.NextKey();
    request.set_request_id(id);
    for (const Leased& m : messages) request.add_ack_receipts(m.handle);
    return consume_.Start(id, request);
  }

 private:
  PublishStream& publish_;
  ConsumeStream& consume_;
  Inbox& inbox_;
  const std::string queue_;
};

class StreamTarget final : public Target {
 public:
  StreamTarget(const GrpcTargetOptions& options, int credits)
      : options_(options), credits_(credits) {}

  std::string name() const override { return "pgqrs-stream"; }
  bool pipelines() const override { return true; }

  absl::Status Setup() override {
    queue_ = options_.queue.empty()
                 ? absl::StrCat("bench-stream-", getpid(), "-", absl::ToUnixMillis(absl::Now()))
                 : options_.queue;
    std::shared_ptr<grpc::Channel> channel = NewChannel(options_.server, options_.identity, 0);
    v1::CreateQueueRequest req;
    req.set_name(queue_);
    req.set_if_not_exists(true);
    v1::Queue resp;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    context.set_wait_for_ready(true);  // the daemon may still be starting
    absl::Status created =
        ToAbsl(v1::QueueService::NewStub(channel)->CreateQueue(&context, req, &resp));
    if (!created.ok()) return created;
    publish_ = std::make_unique<PublishStream>(
        NewChannel(options_.server, options_.identity, 1), &v1::QueueService::Stub::Publish,
        [](const v1::PublishResponse& r) { return std::optional<int64_t>(r.sequence()); },
        PublishStatus, [](v1::PublishResponse&) {});
    consume_ = std::make_unique<ConsumeStream>(
        NewChannel(options_.server, options_.identity, 2), &v1::QueueService::Stub::Consume,
        [](const v1::ConsumeResponse& r) {
          return r.messages_size() > 0 ? std::nullopt : std::optional<int64_t>(r.request_id());
        },
        AckStatus, [this](v1::ConsumeResponse& r) { inbox_.Add(r); });
    v1::ConsumeRequest open;
    open.set_queue(queue_);
    open.set_add_credits(credits_);
    if (!consume_->Send(open)) return absl::UnavailableError("cannot open the Consume stream");
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<Session>> NewSession() override {
    return std::make_unique<StreamSession>(*publish_, *consume_, inbox_, queue_);
  }

  absl::Status Teardown() override {
    consume_.reset();  // releases what it still holds
    publish_.reset();
    if (!options_.queue.empty()) return absl::OkStatus();
    v1::DeleteQueueRequest req;
    req.set_name(queue_);
    req.set_force(true);
    v1::DeleteQueueResponse resp;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    auto stub = v1::QueueService::NewStub(NewChannel(options_.server, options_.identity, 0));
    return ToAbsl(stub->DeleteQueue(&context, req, &resp));
  }

 private:
  const GrpcTargetOptions options_;
  const int credits_;
  std::string queue_;
  Inbox inbox_;
  std::unique_ptr<PublishStream> publish_;
  std::unique_ptr<ConsumeStream> consume_;
};

}  // namespace

std::unique_ptr<Target> NewPgqrsStreamTarget(const GrpcTargetOptions& options, int credits) {
  return std::make_unique<StreamTarget>(options, credits);
}

}  // namespace pgqrs::bench
