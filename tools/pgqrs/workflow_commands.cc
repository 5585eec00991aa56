// workflow create|list and run start|get|wait|cancel|extend|list|steps
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "tools/pgqrs/commands.h"
#include "tools/pgqrs/errors.h"
#include "tools/pgqrs/requests.h"
#include "tools/pgqrs/views.h"

namespace pgqrs::cli {
namespace {

using Stub = v1::WorkflowService::Stub;

absl::StatusOr<int64_t> RunId(const Invocation& inv) {
  return ParseInt64(inv.args.at(0), "RUN_ID");
}

absl::Status CreateWorkflow(const Invocation& inv, Connection& conn, Printer& out) {
  PGQRS_ASSIGN_OR_RETURN(v1::CreateWorkflowRequest request, BuildCreateWorkflowRequest(inv));
  PGQRS_ASSIGN_OR_RETURN(v1::Workflow workflow,
                         conn.Call(conn.workflows(), &Stub::CreateWorkflow, request));
  out.PrintRecords(WorkflowColumns(), {&workflow});
  return absl::OkStatus();
}

absl::Status ExtendRunLease(const Invocation& inv, Connection& conn, Printer& out) {
  v1::ExtendRunLeaseRequest request;
  PGQRS_ASSIGN_OR_RETURN(int64_t id, RunId(inv));
  request.set_run_id(id);
  request.set_receipt(inv.args.at(1));
  request.set_visibility_timeout_ms(inv.GetInt("vt-ms"));
  PGQRS_ASSIGN_OR_RETURN(v1::Run run, conn.Call(conn.workflows(), &Stub::ExtendRunLease, request));
  out.PrintRecords(RunColumns(), {&run});
  return absl::OkStatus();
}

// Follows next_page_token until the last page.
absl::Status ListWorkflows(Connection& conn, Printer& out) {
  std::vector<v1::Workflow> workflows;
  v1::ListWorkflowsRequest request;
  do {
    PGQRS_ASSIGN_OR_RETURN(v1::ListWorkflowsResponse page,
                           conn.Call(conn.workflows(), &Stub::ListWorkflows, request));
    workflows.insert(workflows.end(), page.workflows().begin(), page.workflows().end());
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  out.PrintRecords(WorkflowColumns(), Records(workflows));
  return absl::OkStatus();
}

absl::Status StartRun(const Invocation& inv, Connection& conn, Printer& out) {
  PGQRS_ASSIGN_OR_RETURN(v1::StartRunRequest request, BuildStartRunRequest(inv));
  PGQRS_ASSIGN_OR_RETURN(v1::Run run, conn.Call(conn.workflows(), &Stub::StartRun, request));
  out.PrintRecords(RunColumns(), {&run});
  return absl::OkStatus();
}

absl::Status GetRun(const Invocation& inv, Connection& conn, Printer& out) {
  v1::GetRunRequest request;
  PGQRS_ASSIGN_OR_RETURN(int64_t id, RunId(inv));
  request.set_run_id(id);
  PGQRS_ASSIGN_OR_RETURN(v1::Run run, conn.Call(conn.workflows(), &Stub::GetRun, request));
  out.PrintRecord(run);
  return absl::OkStatus();
}

// The call's deadline is extended by the wait, as `recv --wait-ms` does.
absl::Status WaitRun(const Invocation& inv, Connection& conn, Printer& out) {
  v1::WaitRunRequest request;
  PGQRS_ASSIGN_OR_RETURN(int64_t id, RunId(inv));
  request.set_run_id(id);
  request.set_timeout_ms(inv.GetInt("timeout-ms", 30000));
  if (request.timeout_ms() < 0) {
    return UsageError("--timeout-ms must not be negative");
  }
  PGQRS_ASSIGN_OR_RETURN(
      v1::Run run, conn.Call(conn.workflows(), &Stub::WaitRun, request, request.timeout_ms()));
  out.PrintRecord(run);
  return absl::OkStatus();
}

absl::Status CancelRun(const Invocation& inv, Connection& conn, Printer& out) {
  v1::CancelRunRequest request;
  PGQRS_ASSIGN_OR_RETURN(int64_t id, RunId(inv));
  request.set_run_id(id);
  PGQRS_ASSIGN_OR_RETURN(v1::Run run, conn.Call(conn.workflows(), &Stub::CancelRun, request));
  out.PrintRecords(RunColumns(), {&run});
  return absl::OkStatus();
}

// Follows next_page_token until the last page.
absl::Status ListRuns(const Invocation& inv, Connection& conn, Printer& out) {
  PGQRS_ASSIGN_OR_RETURN(v1::ListRunsRequest request, BuildListRunsRequest(inv));
  std::vector<v1::Run> runs;
  do {
    PGQRS_ASSIGN_OR_RETURN(v1::ListRunsResponse page,
                           conn.Call(conn.workflows(), &Stub::ListRuns, request));
    runs.insert(runs.end(), page.runs().begin(), page.runs().end());
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  out.PrintRecords(RunColumns(), Records(runs));
  return absl::OkStatus();
}

// Follows next_page_token until the last page.
absl::Status ListSteps(const Invocation& inv, Connection& conn, Printer& out) {
  v1::ListStepsRequest request;
  PGQRS_ASSIGN_OR_RETURN(int64_t id, RunId(inv));
  request.set_run_id(id);
  std::vector<v1::Step> steps;
  do {
    PGQRS_ASSIGN_OR_RETURN(v1::ListStepsResponse page,
                           conn.Call(conn.workflows(), &Stub::ListSteps, request));
    steps.insert(steps.end(), page.steps().begin(), page.steps().end());
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  out.PrintRecords(StepColumns(), Records(steps));
  return absl::OkStatus();
}

}  // namespace

absl::Status RunWorkflowCommand(const Invocation& inv, Connection& conn, Printer& out) {
  const std::string& group = inv.command.at(0);
  const std::string& verb = inv.command.at(1);
  if (group == "workflow") {
    if (verb == "create") {
      return CreateWorkflow(inv, conn, out);
    }
    if (verb == "list") {
      return ListWorkflows(conn, out);
    }
  } else {
    if (verb == "start") {
      return StartRun(inv, conn, out);
    }
    if (verb == "get") {
      return GetRun(inv, conn, out);
    }
    if (verb == "wait") {
      return WaitRun(inv, conn, out);
    }
    if (verb == "cancel") {
      return CancelRun(inv, conn, out);
    }
    if (verb == "extend") {
      return ExtendRunLease(inv, conn, out);
    }
    if (verb == "list") {
      return ListRuns(inv, conn, out);
    }
    if (verb == "steps") {
      return ListSteps(inv, conn, out);
    }
  }
  return absl::UnimplementedError(absl::StrCat(group, " ", verb));
}

}  // namespace pgqrs::cli
