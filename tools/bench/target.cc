#include "tools/bench/target.h"

#include "tools/bench/payload.h"

namespace pgqrs::bench {
namespace {

std::future<Answer> Answered(absl::Status status) {
  std::promise<Answer> answer;
  answer.set_value({std::move(status), MonotonicNanos()});
  return answer.get_future();
}

}  // namespace

std::future<Answer> Session::StartEnqueue(std::span<const std::string> payloads) {
  return Answered(Enqueue(payloads));
}

std::future<Answer> Session::StartAck(std::span<const Leased> messages) {
  return Answered(Ack(messages));
}

}  // namespace pgqrs::bench
