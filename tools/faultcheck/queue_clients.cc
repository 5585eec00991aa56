#include <thread>

#include "absl/strings/str_cat.h"
#include "tools/faultcheck/clients.h"

namespace pgqrs::faultcheck {
namespace {

void Sleep(int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// After an error, waits a little so a daemon that is down is not spun against.
void BackOffOnError(const Event& event) {
  if (event.value("status", "") != "OK") Sleep(50);
}

// Acks or nacks one leased message, recording the receipt's result.
void Settle(Caller& caller, const v1::Message& message, bool nack) {
  v1::ReceiptResponse response;
  Event event = caller.Run(nack ? "nack" : "ack", [&](Stubs& stubs, grpc::ClientContext* ctx) {
    if (nack) {
      v1::NackRequest request;
      request.set_queue(kQueue);
      request.add_receipts(message.receipt());
      return stubs.queues->Nack(ctx, request, &response);
    }
    v1::AckRequest request;
    request.set_queue(kQueue);
    request.add_receipts(message.receipt());
    return stubs.queues->Ack(ctx, request, &response);
  });
  event["id"] = message.id();
  event["receipt"] = message.receipt();
  if (response.results_size() == 1) {
    std::string result = v1::ReceiptResult_Name(response.results(0));
    event["result"] = result.substr(std::string("RECEIPT_RESULT_").size());
  }
  BackOffOnError(event);
  caller.Record(std::move(event));
}

// Messages of `queue` not yet settled (pending, delayed or in flight); -1 when unknown.
int64_t Backlog(Caller& caller, const std::string& queue) {
  v1::QueueStatsRequest request;
  request.set_queue(queue);
  v1::QueueStats stats;
  grpc::Status status = caller.RunUnrecorded([&](Stubs& stubs, grpc::ClientContext* ctx) {
    return stubs.queues->QueueStats(ctx, request, &stats);
  });
  return status.ok() ? stats.pending() + stats.delayed() + stats.in_flight() : -1;
}

// Flow control: new work waits while `queue` holds more than `limit` unsettled messages, so
// the backlog stays small enough to drain after the faults however slow the machine is.
void WaitForBacklogBelow(Caller& caller, const std::atomic<Phase>& phase, const std::string& queue,
                         int64_t limit) {
  while (phase == Phase::kFaults && Backlog(caller, queue) > limit) Sleep(100);
}

}  // namespace

void RunProducer(Caller& caller, const std::atomic<Phase>& phase) {
  for (int batch = 0; phase == Phase::kFaults; ++batch) {
    if (batch % 20 == 0) WaitForBacklogBelow(caller, phase, kQueue, kMaxMessageBacklog);
    v1::EnqueueRequest request;
    request.set_queue(kQueue);
    int count = 1 + static_cast<int>(caller.Pick(3));
    for (int i = 0; i < count; ++i) {
      request.add_messages()->set_payload_json(
          absl::StrCat(R"({"producer":")", caller.proc(), R"(","batch":)", batch, "}"));
    }
    v1::EnqueueResponse response;
    Event event = caller.Run("enqueue", [&](Stubs& stubs, grpc::ClientContext* ctx) {
      return stubs.queues->Enqueue(ctx, request, &response);
    });
    event["count"] = count;
    if (event["status"] == "OK") {
      event["ids"] =
          std::vector<int64_t>(response.message_ids().begin(), response.message_ids().end());
    }
    BackOffOnError(event);
    caller.Record(std::move(event));
    Sleep(10 + static_cast<int64_t>(caller.Pick(20)));
  }
}

void RunConsumer(Caller& caller, const std::atomic<Phase>& phase, const WorkloadOptions& options) {
  while (phase != Phase::kStop) {
    v1::DequeueRequest request;
    request.set_queue(kQueue);
    request.set_max_messages(1 + static_cast<int>(caller.Pick(4)));
    request.set_visibility_timeout_ms(options.visibility_timeout_ms);
    request.set_wait_ms(200);
    v1::DequeueResponse response;
    Event event = caller.Run("dequeue", [&](Stubs& stubs, grpc::ClientContext* ctx) {
      return stubs.queues->Dequeue(ctx, request, &response);
    });
    event["messages"] = Event::array();
    for (const v1::Message& m : response.messages()) {
      event["messages"].push_back(
          {{"id", m.id()}, {"receipt", m.receipt()}, {"visible_at", ToMicros(m.visible_at())}});
    }
    BackOffOnError(event);
    caller.Record(std::move(event));
    for (const v1::Message& m : response.messages()) {
      bool faults = phase == Phase::kFaults;
      if (faults && caller.Percent() < 5) Sleep(options.visibility_timeout_ms + 200);
      Settle(caller, m, /*nack=*/faults && caller.Percent() < 10);
    }
  }
}

void RunStarter(Caller& caller, const std::atomic<Phase>& phase) {
  for (int n = 0; phase == Phase::kFaults; ++n) {
    if (n % 5 == 0) WaitForBacklogBelow(caller, phase, kWorkflow, kMaxRunBacklog);
    v1::StartRunRequest request;
    request.set_workflow(kWorkflow);
    request.set_input_json(absl::StrCat(R"({"n":)", n, "}"));
    v1::Run run;
    Event event = caller.Run("start_run", [&](Stubs& stubs, grpc::ClientContext* ctx) {
      return stubs.workflows->StartRun(ctx, request, &run);
    });
    if (event["status"] == "OK") event["run"] = run.id();
    BackOffOnError(event);
    caller.Record(std::move(event));
    Sleep(40 + static_cast<int64_t>(caller.Pick(40)));
  }
}

}  // namespace pgqrs::faultcheck
