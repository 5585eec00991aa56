#include "tools/bench/stream_target.h"

#include <unistd.h>

#include <deque>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "proto/pgqrs/v1/queue.grpc.pb.h"
#include "tools/bench/channels.h"

namespace pgqrs::bench {
namespace {

// A bidirectional stream shared by many threads: each Call writes one request and waits
// for the response with the same key; a reader thread hands responses out.
template <typename Request, typename Response>
class SharedStream {
 public:
  using Opener = std::unique_ptr<grpc::ClientReaderWriter<Request, Response>> (
      v1::QueueService::Stub::*)(grpc::ClientContext*);
  // Returns the key a response answers, or nothing for a response nobody waits for
  // (handled by `on_other`).
  using KeyOf = std::function<std::optional<int64_t>(const Response&)>;

  SharedStream(std::shared_ptr<grpc::Channel> channel, Opener open, KeyOf key_of,
               std::function<void(Response&)> on_other)
      : stub_(v1::QueueService::NewStub(channel)),
        key_of_(std::move(key_of)),
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

  // Writes `request` (whose key is `key`) and waits for its response.
  absl::StatusOr<Response> Call(int64_t key, const Request& request) {
    {
      absl::MutexLock lock(&mu_);
      waiting_[key];
    }
    bool written;
    {
      absl::MutexLock lock(&write_mu_);
      written = stream_->Write(request);
    }
    absl::MutexLock lock(&mu_);
    if (!written) {
      waiting_.erase(key);
      return absl::UnavailableError("stream closed");
    }
    struct Wait {
      SharedStream* stream;
      int64_t key;
    } wait{this, key};
    mu_.Await(absl::Condition(
        +[](Wait* w) ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return w->stream->closed_ || w->stream->waiting_[w->key].has_value();
        },
        &wait));
    std::optional<Response> response = std::move(waiting_[key]);
    waiting_.erase(key);
    if (!response) return absl::UnavailableError("stream closed");
    return *std::move(response);
  }

  // Writes a request nobody waits an answer for.
  bool Send(const Request& request) {
    absl::MutexLock lock(&write_mu_);
    return stream_->Write(request);
  }

 private:
  void ReadLoop() {
    Response response;
    while (stream_->Read(&response)) {
      std::optional<int64_t> key = key_of_(response);
      if (!key) {
        on_other_(response);
        continue;
      }
      absl::MutexLock lock(&mu_);
      waiting_[*key] = std::move(response);
    }
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }

  std::unique_ptr<v1::QueueService::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<Request, Response>> stream_;
  const KeyOf key_of_;
  const std::function<void(Response&)> on_other_;
  std::atomic<int64_t> next_key_{1};
  absl::Mutex write_mu_;
  absl::Mutex mu_;
  absl::flat_hash_map<int64_t, std::optional<Response>> waiting_ ABSL_GUARDED_BY(mu_);
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

absl::Status FromResults(const google::protobuf::RepeatedField<int>& results) {
  for (int r : results) {
    if (r == v1::RECEIPT_RESULT_LEASE_LOST) return absl::FailedPreconditionError("lease lost");
    if (r != v1::RECEIPT_RESULT_OK) return absl::NotFoundError("receipt not found");
  }
  return absl::OkStatus();
}

class StreamSession final : public Session {
 public:
  StreamSession(PublishStream& publish, ConsumeStream& consume, Inbox& inbox, std::string queue)
      : publish_(publish), consume_(consume), inbox_(inbox), queue_(std::move(queue)) {}

  absl::Status Enqueue(std::span<const std::string> payloads) override {
    v1::PublishRequest request;
    int64_t sequence = publish_.NextKey();
    request.set_sequence(sequence);
    request.set_queue(queue_);
    for (const std::string& p : payloads) request.add_messages()->set_payload_json(p);
    absl::StatusOr<v1::PublishResponse> response = publish_.Call(sequence, request);
    if (!response.ok()) return response.status();
    return absl::Status(static_cast<absl::StatusCode>(response->error_code()),
                        response->error_message());
  }

  absl::StatusOr<std::vector<Leased>> Dequeue(int max, absl::Duration wait) override {
    return inbox_.Take(max, wait);
  }

  absl::Status Ack(std::span<const Leased> messages) override {
    v1::ConsumeRequest request;
    int64_t id = consume_.NextKey();
    request.set_request_id(id);
    for (const Leased& m : messages) request.add_ack_receipts(m.handle);
    absl::StatusOr<v1::ConsumeResponse> response = consume_.Call(id, request);
    if (!response.ok()) return response.status();
    return FromResults(response->ack_results());
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
        [](v1::PublishResponse&) {});
    consume_ = std::make_unique<ConsumeStream>(
        NewChannel(options_.server, options_.identity, 2), &v1::QueueService::Stub::Consume,
        [](const v1::ConsumeResponse& r) {
          return r.messages_size() > 0 ? std::nullopt : std::optional<int64_t>(r.request_id());
        },
        [this](v1::ConsumeResponse& r) { inbox_.Add(r); });
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
