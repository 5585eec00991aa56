#include "tools/faultcheck/workload.h"

#include "absl/strings/str_cat.h"
#include "tools/faultcheck/caller.h"
#include "tools/faultcheck/clients.h"

namespace pgqrs::faultcheck {

Workload::Workload(std::vector<std::shared_ptr<grpc::Channel>> channels, HistoryWriter* history,
                   WorkloadOptions options)
    : channels_(std::move(channels)), history_(history), options_(options) {}

Workload::~Workload() { Stop(); }

absl::Status Workload::Setup() {
  auto stubs = Stubs(channels_.front());
  grpc::Status status;
  for (int attempt = 0; attempt < 100; ++attempt) {
    v1::CreateQueueRequest queue;
    queue.set_name(kQueue);
    queue.set_max_read_count(kMaxReadCount);
    queue.set_if_not_exists(true);
    v1::Queue created_queue;
    grpc::ClientContext queue_ctx;
    status = stubs.queues->CreateQueue(&queue_ctx, queue, &created_queue);
    if (status.ok()) {
      v1::CreateWorkflowRequest workflow;
      workflow.set_name(kWorkflow);
      workflow.set_if_not_exists(true);
      v1::Workflow created_workflow;
      grpc::ClientContext workflow_ctx;
      status = stubs.workflows->CreateWorkflow(&workflow_ctx, workflow, &created_workflow);
      if (status.ok()) return absl::OkStatus();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return absl::UnavailableError(
      absl::StrCat("setup failed: ", CodeName(status.error_code()), ": ", status.error_message()));
}

void Workload::Start() {
  uint64_t seed = options_.seed;
  auto spawn = [&](const std::string& name, auto loop) {
    auto caller = std::make_shared<Caller>(name, channels_, history_, seed++);
    caller->set_cancel_percent(options_.cancel_percent);
    callers_.push_back(caller);
    threads_.emplace_back([caller, loop] { loop(*caller); });
  };
  for (int i = 0; i < options_.producers; ++i) {
    spawn(absl::StrCat("producer-", i), [this](Caller& c) { RunProducer(c, phase_); });
  }
  for (int i = 0; i < options_.consumers; ++i) {
    spawn(absl::StrCat("consumer-", i), [this](Caller& c) { RunConsumer(c, phase_, options_); });
  }
  if (options_.workflow_workers > 0) {
    spawn("starter", [this](Caller& c) { RunStarter(c, phase_); });
  }
  for (int i = 0; i < options_.workflow_workers; ++i) {
    spawn(absl::StrCat("worker-", i),
          [this](Caller& c) { RunWorkflowWorker(c, phase_, options_); });
  }
}

void Workload::BeginDrain() {
  phase_ = Phase::kDrain;
  for (const auto& caller : callers_) caller->set_cancel_percent(0);
}

void Workload::Stop() {
  phase_ = Phase::kStop;
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

}  // namespace pgqrs::faultcheck
