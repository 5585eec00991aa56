// send, recv, ack, nack, delete, extend
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

using Stub = v1::QueueService::Stub;

absl::Status Send(const Invocation& inv, Connection& conn, Printer& out) {
  PGQRS_ASSIGN_OR_RETURN(v1::EnqueueRequest request, BuildEnqueueRequest(inv));
  PGQRS_ASSIGN_OR_RETURN(v1::EnqueueResponse response,
                         conn.Call(conn.queues(), &Stub::Enqueue, request));
  PrintMessageIds(out, response);
  return absl::OkStatus();
}

// The deadline stretches by the long-poll wait so a full wait is not cut short.
absl::Status Receive(const Invocation& inv, Connection& conn, Printer& out) {
  PGQRS_ASSIGN_OR_RETURN(v1::DequeueRequest request, BuildDequeueRequest(inv));
  const int64_t extra_ms = request.wait_ms() > 0 ? request.wait_ms() : 0;
  PGQRS_ASSIGN_OR_RETURN(v1::DequeueResponse response,
                         conn.Call(conn.queues(), &Stub::Dequeue, request, extra_ms));
  out.PrintRecords(ReceivedColumns(), Records(response.messages()));
  return absl::OkStatus();
}

// Ack, Delete, Nack and ExtendVisibility: `request` carries the command's own fields; this
// adds the queue and receipts, prints one result per receipt and fails if any is not OK.
template <typename Request>
absl::Status ApplyReceipts(const Invocation& inv, Connection& conn, Printer& out,
                           grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                        v1::ReceiptResponse*),
                           Request request) {
  const std::vector<std::string> receipts(inv.args.begin() + 1, inv.args.end());
  request.set_queue(inv.args[0]);
  for (const std::string& receipt : receipts) {
    request.add_receipts(receipt);
  }
  PGQRS_ASSIGN_OR_RETURN(v1::ReceiptResponse response, conn.Call(conn.queues(), method, request));
  const int failed = PrintReceiptResults(out, receipts, response);
  if (failed > 0) {
    return PartialFailure(
        absl::StrCat(inv.command[0], ": ", failed, " of ", receipts.size(), " receipts failed"));
  }
  return absl::OkStatus();
}

absl::Status Nack(const Invocation& inv, Connection& conn, Printer& out) {
  v1::NackRequest request;
  request.set_delay_ms(inv.GetInt("delay-ms"));
  return ApplyReceipts(inv, conn, out, &Stub::Nack, std::move(request));
}

absl::Status Extend(const Invocation& inv, Connection& conn, Printer& out) {
  v1::ExtendVisibilityRequest request;
  request.set_visibility_timeout_ms(inv.GetInt("vt-ms"));
  return ApplyReceipts(inv, conn, out, &Stub::ExtendVisibility, std::move(request));
}

}  // namespace

absl::Status RunMessageCommand(const Invocation& inv, Connection& conn, Printer& out) {
  const std::string& verb = inv.command.at(0);
  if (verb == "send") {
    return Send(inv, conn, out);
  }
  if (verb == "recv") {
    return Receive(inv, conn, out);
  }
  if (verb == "ack") {
    return ApplyReceipts(inv, conn, out, &Stub::Ack, v1::AckRequest());
  }
  if (verb == "delete") {
    return ApplyReceipts(inv, conn, out, &Stub::Delete, v1::DeleteRequest());
  }
  if (verb == "nack") {
    return Nack(inv, conn, out);
  }
  if (verb == "extend") {
    return Extend(inv, conn, out);
  }
  return absl::UnimplementedError(verb);
}

}  // namespace pgqrs::cli
