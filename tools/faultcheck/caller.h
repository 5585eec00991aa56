// Caller makes one client thread's gRPC calls and turns each into a history event.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "google/protobuf/timestamp.pb.h"
#include "proto/pgqrs/v1/queue.grpc.pb.h"
#include "proto/pgqrs/v1/workflow.grpc.pb.h"
#include "tools/faultcheck/history.h"

namespace pgqrs::faultcheck {

// One channel per daemon, with reconnect backoff short enough that clients find a
// restarted daemon within a few hundred milliseconds.
std::vector<std::shared_ptr<grpc::Channel>> MakeChannels(const std::vector<std::string>& addresses);

int64_t ToMicros(const google::protobuf::Timestamp& t);

// "OK", "UNAVAILABLE", ...
std::string CodeName(grpc::StatusCode code);

struct Stubs {
  explicit Stubs(const std::shared_ptr<grpc::Channel>& channel);
  std::unique_ptr<v1::QueueService::Stub> queues;
  std::unique_ptr<v1::WorkflowService::Stub> workflows;
};

class Caller {
 public:
  Caller(std::string proc, const std::vector<std::shared_ptr<grpc::Channel>>& channels,
         HistoryWriter* history, uint64_t seed);

  // Runs `call(stubs, context)` on a random daemon and returns its event (op, proc, daemon,
  // start, end, status, cancel); the caller adds the op's fields and Records it.
  template <typename Call>
  Event Run(const std::string& op, Call&& call) {
    size_t daemon = Pick(stubs_.size());
    grpc::ClientContext context;
    bool cancel = Percent() < cancel_percent_.load();
    context.set_deadline(std::chrono::system_clock::now() +
                         (cancel ? std::chrono::milliseconds(1 + Pick(20)) : deadline_));
    Event event = {{"op", op}, {"proc", proc_}, {"daemon", daemon}, {"start", NowMicros()}};
    grpc::Status status = call(stubs_[daemon], &context);
    event["end"] = NowMicros();
    event["status"] = CodeName(status.error_code());
    if (cancel) event["cancel"] = true;
    return event;
  }

  // Runs `call(stubs, context)` on a random daemon with the normal deadline and records
  // nothing: for flow control reads that the checker does not need.
  template <typename Call>
  grpc::Status RunUnrecorded(Call&& call) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + deadline_);
    return call(stubs_[Pick(stubs_.size())], &context);
  }

  void Record(Event event) { history_->Append(std::move(event)); }
  // This share of calls get a deadline of 1-20 ms, so they are cut short mid-call (their
  // events are marked "cancel": true); the rest get 10 s.
  void set_cancel_percent(int percent) { cancel_percent_ = percent; }
  const std::string& proc() const { return proc_; }

  // Uniform in [0, n).
  size_t Pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  // Uniform in [0, 100).
  int Percent() { return static_cast<int>(Pick(100)); }

 private:
  std::string proc_;
  std::vector<Stubs> stubs_;
  HistoryWriter* history_;
  std::mt19937_64 rng_;
  std::atomic<int> cancel_percent_{0};
  std::chrono::milliseconds deadline_{10'000};
};

}  // namespace pgqrs::faultcheck
