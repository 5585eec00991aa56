#include "tools/faultcheck/drain.h"

#include <limits>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "proto/pgqrs/v1/queue.grpc.pb.h"
#include "proto/pgqrs/v1/workflow.grpc.pb.h"
#include "tools/faultcheck/caller.h"
#include "tools/faultcheck/workload.h"

namespace pgqrs::faultcheck {
namespace {

constexpr int kReadAttempts = 50;
constexpr int kIdsPerRead = 500;

// Runs `call` with a fresh 10 s context until it succeeds or kReadAttempts have failed.
template <typename Call>
absl::Status Retry(const std::string& what, Call&& call) {
  grpc::Status status;
  for (int attempt = 0; attempt < kReadAttempts; ++attempt) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    status = call(&context);
    if (status.ok()) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return absl::UnavailableError(
      absl::StrCat(what, ": ", CodeName(status.error_code()), ": ", status.error_message()));
}

// Messages of the queue not yet settled (pending, delayed or in flight).
absl::StatusOr<int64_t> Unsettled(Stubs& stubs) {
  v1::QueueStatsRequest request;
  request.set_queue(kQueue);
  v1::QueueStats stats;
  PGQRS_RETURN_IF_ERROR(Retry("QueueStats", [&](grpc::ClientContext* ctx) {
    return stubs.queues->QueueStats(ctx, request, &stats);
  }));
  return stats.pending() + stats.delayed() + stats.in_flight();
}

absl::StatusOr<bool> RunsFinished(Stubs& stubs) {
  for (v1::RunStatus status : {v1::RUN_STATUS_QUEUED, v1::RUN_STATUS_RUNNING, v1::RUN_STATUS_PAUSED,
                               v1::RUN_STATUS_CANCELLING}) {
    v1::ListRunsRequest request;
    request.set_workflow(kWorkflow);
    request.set_status(status);
    request.set_page_size(1);
    v1::ListRunsResponse response;
    PGQRS_RETURN_IF_ERROR(Retry("ListRuns", [&](grpc::ClientContext* ctx) {
      return stubs.workflows->ListRuns(ctx, request, &response);
    }));
    if (response.runs_size() > 0) return false;
  }
  return true;
}

// Every message id and run id the history mentions.
void CollectIds(const History& history, std::set<int64_t>* messages, std::set<int64_t>* runs) {
  for (const Event& e : history) {
    for (int64_t id : e.value("ids", std::vector<int64_t>{})) messages->insert(id);
    for (const Event& m : e.value("messages", Event::array())) messages->insert(m.value("id", 0));
    if (e.contains("run")) runs->insert(e["run"].get<int64_t>());
  }
}

absl::Status RecordMessages(Stubs& stubs, const std::set<int64_t>& ids, HistoryWriter* history) {
  std::vector<int64_t> all(ids.begin(), ids.end());
  for (size_t from = 0; from < all.size(); from += kIdsPerRead) {
    v1::GetMessagesRequest request;
    request.set_queue(kQueue);
    for (size_t i = from; i < std::min(all.size(), from + kIdsPerRead); ++i) {
      request.add_ids(all[i]);
    }
    v1::GetMessagesResponse response;
    int64_t start = NowMicros();
    PGQRS_RETURN_IF_ERROR(Retry("GetMessages", [&](grpc::ClientContext* ctx) {
      return stubs.queues->GetMessages(ctx, request, &response);
    }));
    std::map<int64_t, std::string> states;
    for (const v1::Message& m : response.messages()) {
      states[m.id()] =
          v1::MessageState_Name(m.state()).substr(std::string("MESSAGE_STATE_").size());
    }
    for (int64_t id : request.ids()) {
      auto it = states.find(id);
      history->Append({{"op", "final_message"},
                       {"id", id},
                       {"state", it == states.end() ? "MISSING" : it->second},
                       {"start", start},
                       {"end", NowMicros()}});
    }
  }
  return absl::OkStatus();
}

absl::Status RecordRun(Stubs& stubs, int64_t id, HistoryWriter* history) {
  int64_t start = NowMicros();
  v1::GetRunRequest run_request;
  run_request.set_run_id(id);
  v1::Run run;
  PGQRS_RETURN_IF_ERROR(Retry("GetRun", [&](grpc::ClientContext* ctx) {
    return stubs.workflows->GetRun(ctx, run_request, &run);
  }));
  v1::ListStepsRequest steps_request;
  steps_request.set_run_id(id);
  v1::ListStepsResponse steps;
  PGQRS_RETURN_IF_ERROR(Retry("ListSteps", [&](grpc::ClientContext* ctx) {
    return stubs.workflows->ListSteps(ctx, steps_request, &steps);
  }));
  Event by_name = Event::object();
  for (const v1::Step& step : steps.steps()) {
    by_name[step.step_name()] = {
        {"status", v1::StepStatus_Name(step.status()).substr(std::string("STEP_STATUS_").size())},
        {"output", step.output_json()}};
  }
  history->Append(
      {{"op", "final_run"},
       {"run", id},
       {"status", v1::RunStatus_Name(run.status()).substr(std::string("RUN_STATUS_").size())},
       {"steps", by_name},
       {"start", start},
       {"end", NowMicros()}});
  return absl::OkStatus();
}

}  // namespace

absl::Status WaitDrained(const std::shared_ptr<grpc::Channel>& channel, absl::Duration patience) {
  Stubs stubs(channel);
  int64_t fewest = std::numeric_limits<int64_t>::max();
  absl::Time deadline = absl::Now() + patience;
  while (absl::Now() < deadline) {
    PGQRS_ASSIGN_OR_RETURN(int64_t unsettled, Unsettled(stubs));
    PGQRS_ASSIGN_OR_RETURN(bool runs_finished, RunsFinished(stubs));
    if (unsettled == 0 && runs_finished) return absl::OkStatus();
    if (unsettled < fewest) {
      fewest = unsettled;
      deadline = absl::Now() + patience;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return absl::DeadlineExceededError(absl::StrCat("the drain made no progress for ",
                                                  absl::FormatDuration(patience), " (", fewest,
                                                  " messages unsettled, or runs unfinished)"));
}

absl::Status RecordFinalStates(const std::shared_ptr<grpc::Channel>& channel,
                               HistoryWriter* history) {
  Stubs stubs(channel);
  std::set<int64_t> messages, runs;
  CollectIds(history->Snapshot(), &messages, &runs);
  runs.erase(0);
  PGQRS_RETURN_IF_ERROR(RecordMessages(stubs, messages, history));
  for (int64_t run : runs) PGQRS_RETURN_IF_ERROR(RecordRun(stubs, run, history));
  return absl::OkStatus();
}

}  // namespace pgqrs::faultcheck
