// dlq list|redrive
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "tools/pgqrs/commands.h"
#include "tools/pgqrs/requests.h"
#include "tools/pgqrs/views.h"

namespace pgqrs::cli {
namespace {

using Stub = v1::QueueService::Stub;

// Follows next_page_token until the last page.
absl::Status ListDeadLetters(const std::string& queue, Connection& conn, Printer& out) {
  std::vector<v1::Message> messages;
  v1::ListDeadLettersRequest request;
  request.set_queue(queue);
  do {
    PGQRS_ASSIGN_OR_RETURN(v1::ListDeadLettersResponse page,
                           conn.Call(conn.queues(), &Stub::ListDeadLetters, request));
    messages.insert(messages.end(), page.messages().begin(), page.messages().end());
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  out.PrintRecords(DeadLetterColumns(), Records(messages));
  return absl::OkStatus();
}

absl::Status Redrive(const Invocation& inv, Connection& conn, Printer& out) {
  PGQRS_ASSIGN_OR_RETURN(
      std::vector<int64_t> ids,
      ParseIds(std::vector<std::string>(inv.args.begin() + 1, inv.args.end()), "message id"));
  v1::RedriveRequest request;
  request.set_queue(inv.args[0]);
  request.mutable_ids()->Add(ids.begin(), ids.end());
  PGQRS_ASSIGN_OR_RETURN(v1::RedriveResponse response,
                         conn.Call(conn.queues(), &Stub::Redrive, request));
  out.PrintRecord(response);
  return absl::OkStatus();
}

}  // namespace

absl::Status RunDeadLetterCommand(const Invocation& inv, Connection& conn, Printer& out) {
  const std::string& verb = inv.command.at(1);
  if (verb == "list") {
    return ListDeadLetters(inv.args[0], conn, out);
  }
  if (verb == "redrive") {
    return Redrive(inv, conn, out);
  }
  return absl::UnimplementedError(absl::StrCat("dlq ", verb));
}

}  // namespace pgqrs::cli
