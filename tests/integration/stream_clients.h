// Synchronous test clients for the Consume and Publish streams: a reader thread collects
// the server's responses so a test can wait for the next one with a timeout.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "tests/integration/client.h"

namespace pgqrs::testing {

template <typename Request, typename Response>
class StreamClient {
 public:
  using Opener = std::unique_ptr<grpc::ClientReaderWriter<Request, Response>> (
      v1::QueueService::Stub::*)(grpc::ClientContext*);

  StreamClient(Client& client, Opener open) {
    context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    stream_ = ((*client.queues).*open)(&context_);
    reader_ = std::thread([this] {
      Response response;
      while (stream_->Read(&response)) {
        std::lock_guard<std::mutex> lock(mu_);
        responses_.push_back(response);
        cv_.notify_all();
      }
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
      cv_.notify_all();
    });
  }
  ~StreamClient() {
    if (!finished_) Cancel();
    reader_.join();
  }

  void Send(const Request& request) { REQUIRE(stream_->Write(request)); }
  // Sends without requiring that the server still reads (it may have refused the stream).
  bool TrySend(const Request& request) { return stream_->Write(request); }

  // The next response, or nothing when none comes within `timeout` or the stream closed.
  std::optional<Response> Next(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return !responses_.empty() || closed_; });
    if (responses_.empty()) return std::nullopt;
    Response response = responses_.front();
    responses_.pop_front();
    return response;
  }

  // Half-closes, waits for the server to end the stream, and returns its status.
  grpc::Status Close() {
    stream_->WritesDone();
    return Finish();
  }
  // Cancels the call (as a client that goes away would) and waits for the reader.
  void Cancel() {
    context_.TryCancel();
    Finish();
  }
  grpc::Status Finish() {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return closed_; });
    }
    finished_ = true;
    return stream_->Finish();
  }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<Request, Response>> stream_;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Response> responses_;
  bool closed_ = false;
  bool finished_ = false;
};

struct ConsumeClient : StreamClient<v1::ConsumeRequest, v1::ConsumeResponse> {
  ConsumeClient(Client& client, const std::string& queue, int32_t credits,
                int64_t visibility_timeout_ms = 0, int64_t worker_id = 0, bool keep = false)
      : StreamClient(client, &v1::QueueService::Stub::Consume) {
    v1::ConsumeRequest open;
    open.set_queue(queue);
    open.set_add_credits(credits);
    open.set_visibility_timeout_ms(visibility_timeout_ms);
    open.set_consumer_worker_id(worker_id);
    open.set_keep_leases_on_close(keep);
    TrySend(open);
  }

  void AddCredits(int32_t n) {
    v1::ConsumeRequest request;
    request.set_add_credits(n);
    Send(request);
  }

  void Ack(int64_t request_id, const std::vector<std::string>& receipts) {
    v1::ConsumeRequest request;
    request.set_request_id(request_id);
    for (const std::string& r : receipts) request.add_ack_receipts(r);
    Send(request);
  }

  void Nack(int64_t request_id, const std::vector<std::string>& receipts) {
    v1::ConsumeRequest request;
    request.set_request_id(request_id);
    for (const std::string& r : receipts) request.add_nack_receipts(r);
    Send(request);
  }

  // The results of request `request_id`; pushes that come first are kept in `skipped`.
  v1::ConsumeResponse Result(int64_t request_id) {
    while (true) {
      std::optional<v1::ConsumeResponse> response = Next();
      REQUIRE(response.has_value());
      if (response->messages_size() == 0) {
        REQUIRE(response->request_id() == request_id);
        return *response;
      }
      skipped.insert(skipped.end(), response->messages().begin(), response->messages().end());
    }
  }

  // The next `n` pushed messages; fails the test when they do not all come in time.
  std::vector<v1::Message> Messages(int n) {
    std::vector<v1::Message> messages;
    while (static_cast<int>(messages.size()) < n) {
      std::optional<v1::ConsumeResponse> response = Next();
      REQUIRE(response.has_value());
      REQUIRE(response->messages_size() > 0);
      messages.insert(messages.end(), response->messages().begin(), response->messages().end());
    }
    REQUIRE(static_cast<int>(messages.size()) == n);
    return messages;
  }

  std::vector<v1::Message> skipped;
};

struct PublishClient : StreamClient<v1::PublishRequest, v1::PublishResponse> {
  explicit PublishClient(Client& client) : StreamClient(client, &v1::QueueService::Stub::Publish) {}

  void Publish(int64_t sequence, const std::string& queue,
               const std::vector<std::string>& payloads) {
    v1::PublishRequest request;
    request.set_sequence(sequence);
    request.set_queue(queue);
    for (const std::string& p : payloads) request.add_messages()->set_payload_json(p);
    Send(request);
  }
};

inline std::vector<v1::Message> GetMessages(Client& client, const std::string& queue,
                                            const std::vector<int64_t>& ids) {
  v1::GetMessagesRequest request;
  request.set_queue(queue);
  for (int64_t id : ids) request.add_ids(id);
  v1::GetMessagesResponse response;
  REQUIRE(
      client.Call(*client.queues, &v1::QueueService::Stub::GetMessages, request, &response).ok());
  return {response.messages().begin(), response.messages().end()};
}

}  // namespace pgqrs::testing
