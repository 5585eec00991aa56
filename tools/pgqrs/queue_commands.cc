// queue create|list|get|delete|purge|stats
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

absl::Status CreateQueue(const Invocation& inv, Connection& conn, Printer& out) {
  PGQRS_ASSIGN_OR_RETURN(v1::CreateQueueRequest request, BuildCreateQueueRequest(inv));
  PGQRS_ASSIGN_OR_RETURN(v1::Queue queue, conn.Call(conn.queues(), &Stub::CreateQueue, request));
  out.PrintRecords(QueueColumns(), {&queue});
  return absl::OkStatus();
}

// Follows next_page_token until the last page.
absl::Status ListQueues(Connection& conn, Printer& out) {
  std::vector<v1::Queue> queues;
  v1::ListQueuesRequest request;
  do {
    PGQRS_ASSIGN_OR_RETURN(v1::ListQueuesResponse page,
                           conn.Call(conn.queues(), &Stub::ListQueues, request));
    queues.insert(queues.end(), page.queues().begin(), page.queues().end());
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  out.PrintRecords(QueueColumns(), Records(queues));
  return absl::OkStatus();
}

absl::Status GetQueue(const std::string& name, Connection& conn, Printer& out) {
  v1::GetQueueRequest request;
  request.set_name(name);
  PGQRS_ASSIGN_OR_RETURN(v1::Queue queue, conn.Call(conn.queues(), &Stub::GetQueue, request));
  out.PrintRecord(queue);
  return absl::OkStatus();
}

absl::Status DeleteQueue(const Invocation& inv, Connection& conn, Printer& out) {
  v1::DeleteQueueRequest request;
  request.set_name(inv.args[0]);
  request.set_force(inv.Has("force"));
  PGQRS_ASSIGN_OR_RETURN(v1::DeleteQueueResponse response,
                         conn.Call(conn.queues(), &Stub::DeleteQueue, request));
  if (out.format() == OutputFormat::kJson) {
    out.PrintRecord(response);
  }
  out.PrintNote(absl::StrCat("deleted queue \"", inv.args[0], "\""));
  return absl::OkStatus();
}

absl::Status PurgeQueue(const std::string& name, Connection& conn, Printer& out) {
  v1::PurgeQueueRequest request;
  request.set_name(name);
  PGQRS_ASSIGN_OR_RETURN(v1::PurgeQueueResponse response,
                         conn.Call(conn.queues(), &Stub::PurgeQueue, request));
  out.PrintRecord(response);
  return absl::OkStatus();
}

absl::Status QueueStats(const std::string& name, Connection& conn, Printer& out) {
  v1::QueueStatsRequest request;
  request.set_queue(name);
  PGQRS_ASSIGN_OR_RETURN(v1::QueueStats stats,
                         conn.Call(conn.queues(), &Stub::QueueStats, request));
  out.PrintRecord(stats);
  return absl::OkStatus();
}

}  // namespace

absl::Status RunQueueCommand(const Invocation& inv, Connection& conn, Printer& out) {
  const std::string& verb = inv.command.at(1);
  if (verb == "create") {
    return CreateQueue(inv, conn, out);
  }
  if (verb == "list") {
    return ListQueues(conn, out);
  }
  if (verb == "get") {
    return GetQueue(inv.args[0], conn, out);
  }
  if (verb == "delete") {
    return DeleteQueue(inv, conn, out);
  }
  if (verb == "purge") {
    return PurgeQueue(inv.args[0], conn, out);
  }
  if (verb == "stats") {
    return QueueStats(inv.args[0], conn, out);
  }
  return absl::UnimplementedError(absl::StrCat("queue ", verb));
}

}  // namespace pgqrs::cli
