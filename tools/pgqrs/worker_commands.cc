// worker register|list|get|heartbeat|suspend|resume|interrupt|shutdown
#include <unistd.h>

#include <climits>
#include <string>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "tools/pgqrs/commands.h"
#include "tools/pgqrs/requests.h"
#include "tools/pgqrs/views.h"

namespace pgqrs::cli {
namespace {

using Stub = v1::WorkerService::Stub;
using WorkerIdMethod = grpc::Status (Stub::*)(grpc::ClientContext*, const v1::WorkerIdRequest&,
                                              v1::Worker*);

std::string LocalHostname() {
  char name[HOST_NAME_MAX + 1] = {};
  return gethostname(name, sizeof(name) - 1) == 0 ? std::string(name) : std::string();
}

absl::StatusOr<int64_t> WorkerId(const Invocation& inv) {
  return ParseInt64(inv.args.at(0), "WORKER_ID");
}

absl::Status Register(const Invocation& inv, Connection& conn, Printer& out) {
  PGQRS_ASSIGN_OR_RETURN(v1::RegisterWorkerRequest request,
                         BuildRegisterWorkerRequest(inv, LocalHostname()));
  PGQRS_ASSIGN_OR_RETURN(v1::Worker worker,
                         conn.Call(conn.workers(), &Stub::RegisterWorker, request));
  out.PrintRecords(WorkerColumns(), {&worker});
  return absl::OkStatus();
}

// Follows next_page_token until the last page.
absl::Status List(const Invocation& inv, Connection& conn, Printer& out) {
  PGQRS_ASSIGN_OR_RETURN(v1::ListWorkersRequest request, BuildListWorkersRequest(inv));
  std::vector<v1::Worker> workers;
  do {
    PGQRS_ASSIGN_OR_RETURN(v1::ListWorkersResponse page,
                           conn.Call(conn.workers(), &Stub::ListWorkers, request));
    workers.insert(workers.end(), page.workers().begin(), page.workers().end());
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  out.PrintRecords(WorkerColumns(), Records(workers));
  return absl::OkStatus();
}

absl::Status Heartbeat(const Invocation& inv, Connection& conn, Printer& out) {
  v1::HeartbeatRequest request;
  PGQRS_ASSIGN_OR_RETURN(int64_t id, WorkerId(inv));
  request.set_worker_id(id);
  PGQRS_ASSIGN_OR_RETURN(v1::Worker worker, conn.Call(conn.workers(), &Stub::Heartbeat, request));
  out.PrintRecords(WorkerColumns(), {&worker});
  return absl::OkStatus();
}

absl::Status Shutdown(const Invocation& inv, Connection& conn, Printer& out) {
  v1::ShutdownWorkerRequest request;
  PGQRS_ASSIGN_OR_RETURN(int64_t id, WorkerId(inv));
  request.set_worker_id(id);
  request.set_release_messages(inv.Has("release-messages"));
  PGQRS_ASSIGN_OR_RETURN(v1::Worker worker,
                         conn.Call(conn.workers(), &Stub::ShutdownWorker, request));
  out.PrintRecords(WorkerColumns(), {&worker});
  return absl::OkStatus();
}

// get (shown in full) and the state changes suspend, resume and interrupt (one row).
absl::Status ByWorkerId(const Invocation& inv, Connection& conn, Printer& out,
                        WorkerIdMethod method) {
  v1::WorkerIdRequest request;
  PGQRS_ASSIGN_OR_RETURN(int64_t id, WorkerId(inv));
  request.set_worker_id(id);
  PGQRS_ASSIGN_OR_RETURN(v1::Worker worker, conn.Call(conn.workers(), method, request));
  if (method == &Stub::GetWorker) {
    out.PrintRecord(worker);
  } else {
    out.PrintRecords(WorkerColumns(), {&worker});
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RunWorkerCommand(const Invocation& inv, Connection& conn, Printer& out) {
  const std::string& verb = inv.command.at(1);
  if (verb == "register") {
    return Register(inv, conn, out);
  }
  if (verb == "list") {
    return List(inv, conn, out);
  }
  if (verb == "heartbeat") {
    return Heartbeat(inv, conn, out);
  }
  if (verb == "shutdown") {
    return Shutdown(inv, conn, out);
  }
  if (verb == "get") {
    return ByWorkerId(inv, conn, out, &Stub::GetWorker);
  }
  if (verb == "suspend") {
    return ByWorkerId(inv, conn, out, &Stub::SuspendWorker);
  }
  if (verb == "resume") {
    return ByWorkerId(inv, conn, out, &Stub::ResumeWorker);
  }
  if (verb == "interrupt") {
    return ByWorkerId(inv, conn, out, &Stub::InterruptWorker);
  }
  return absl::UnimplementedError(absl::StrCat("worker ", verb));
}

}  // namespace pgqrs::cli
