// Command handlers, one per command group. Each runs the command named by `inv.command`
// (already validated against the command table), prints its result through `out`, and
// returns the server's status, a usage error for bad local input, or a partial failure.
//
// Thread safety: handlers are called one at a time.
#pragma once

#include "absl/status/status.h"
#include "tools/pgqrs/args.h"
#include "tools/pgqrs/connection.h"
#include "tools/pgqrs/output.h"

namespace pgqrs::cli {

// queue create|list|get|delete|purge|stats
absl::Status RunQueueCommand(const Invocation& inv, Connection& conn, Printer& out);
// send, recv, ack, nack, delete, extend
absl::Status RunMessageCommand(const Invocation& inv, Connection& conn, Printer& out);
// consume: stream, print and ack messages
absl::Status RunConsume(const Invocation& inv, Connection& conn, Printer& out);
// dlq list|redrive
absl::Status RunDeadLetterCommand(const Invocation& inv, Connection& conn, Printer& out);
// worker register|list|get|heartbeat|suspend|resume|interrupt|shutdown
absl::Status RunWorkerCommand(const Invocation& inv, Connection& conn, Printer& out);
// workflow create|list and run start|get|wait|cancel|extend|list|steps
absl::Status RunWorkflowCommand(const Invocation& inv, Connection& conn, Printer& out);
// admin verify|stats|info|migrate|reclaim
absl::Status RunAdminCommand(const Invocation& inv, Connection& conn, Printer& out);
// admin token create: offline, needs no connection
absl::Status RunTokenCreate(const Invocation& inv, Printer& out);

}  // namespace pgqrs::cli
