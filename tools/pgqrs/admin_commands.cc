// admin verify|stats|info|migrate|reclaim
#include <string>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "tools/pgqrs/commands.h"
#include "tools/pgqrs/errors.h"

namespace pgqrs::cli {
namespace {

using Stub = v1::AdminService::Stub;

// Prints the report; problems make the command fail (exit 1) after printing them.
absl::Status Verify(Connection& conn, Printer& out) {
  PGQRS_ASSIGN_OR_RETURN(v1::VerifyResponse response,
                         conn.Call(conn.admin(), &Stub::Verify, v1::VerifyRequest()));
  out.PrintRecord(response);
  if (!response.ok()) {
    return PartialFailure(absl::StrCat("verify found ", response.problems_size(), " problem(s)"));
  }
  return absl::OkStatus();
}

absl::Status Reclaim(const Invocation& inv, Connection& conn, Printer& out) {
  v1::ReclaimWorkersRequest request;
  request.set_queue(inv.GetString("queue"));
  request.set_older_than_ms(inv.GetInt("older-than-ms"));
  PGQRS_ASSIGN_OR_RETURN(v1::ReclaimWorkersResponse response,
                         conn.Call(conn.admin(), &Stub::ReclaimWorkers, request));
  out.PrintRecord(response);
  return absl::OkStatus();
}

// Commands whose request is empty and whose response is printed as one record.
template <typename Request, typename Response>
absl::Status Simple(Connection& conn, Printer& out,
                    grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*)) {
  PGQRS_ASSIGN_OR_RETURN(Response response, conn.Call(conn.admin(), method, Request()));
  out.PrintRecord(response);
  return absl::OkStatus();
}

}  // namespace

absl::Status RunAdminCommand(const Invocation& inv, Connection& conn, Printer& out) {
  const std::string& verb = inv.command.at(1);
  if (verb == "verify") {
    return Verify(conn, out);
  }
  if (verb == "stats") {
    return Simple(conn, out, &Stub::SystemStats);
  }
  if (verb == "info") {
    return Simple(conn, out, &Stub::GetServerInfo);
  }
  if (verb == "migrate") {
    return Simple(conn, out, &Stub::Migrate);
  }
  if (verb == "reclaim") {
    return Reclaim(inv, conn, out);
  }
  return absl::UnimplementedError(absl::StrCat("admin ", verb));
}

}  // namespace pgqrs::cli
