#include "tools/pgqrs/dispatch.h"

#include "absl/status/status.h"
#include "engine/base/status_macros.h"
#include "tools/pgqrs/commands.h"
#include "tools/pgqrs/connection.h"
#include "tools/pgqrs/errors.h"
#include "tools/pgqrs/usage.h"

namespace pgqrs::cli {
namespace {

// After a usage error: the synopsis of the command the user was typing, if one is
// recognisable, else a pointer to the help.
void PrintUsageHint(const std::vector<std::string>& args, std::ostream& err) {
  std::vector<std::string> probe = {"--help"};
  probe.insert(probe.end(), args.begin(), args.end());
  absl::StatusOr<Invocation> topic = ParseArgs(probe, CommandTable());
  const CommandSpec* spec = topic.ok() ? FindCommand(CommandTable(), topic->command) : nullptr;
  if (spec != nullptr) {
    err << "usage: " << Synopsis(*spec) << "\n";
  } else {
    err << "run \"pgqrs help\" for usage\n";
  }
}

absl::Status RunCommand(const Invocation& inv, Connection& conn, Printer& out) {
  const std::string& group = inv.command.at(0);
  if (group == "queue") {
    return RunQueueCommand(inv, conn, out);
  }
  if (group == "dlq") {
    return RunDeadLetterCommand(inv, conn, out);
  }
  if (group == "worker") {
    return RunWorkerCommand(inv, conn, out);
  }
  if (group == "workflow" || group == "run") {
    return RunWorkflowCommand(inv, conn, out);
  }
  if (group == "admin") {
    return RunAdminCommand(inv, conn, out);
  }
  if (group == "consume") {
    return RunConsume(inv, conn, out);
  }
  return RunMessageCommand(inv, conn, out);
}

// Runs a command: offline ones without a connection, the rest over one.
absl::Status RunWithConnection(const Invocation& inv, const EnvLookup& getenv, Printer& out) {
  if (inv.command == std::vector<std::string>{"admin", "token", "create"}) {
    return RunTokenCreate(inv, out);
  }
  PGQRS_ASSIGN_OR_RETURN(ConnectionOptions options, ResolveConnectionOptions(inv.globals, getenv));
  Connection conn(std::move(options));
  return RunCommand(inv, conn, out);
}

}  // namespace

int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
           const EnvLookup& getenv) {
  if (args.empty()) {
    err << UsageText(CommandTable(), {});
    return kExitUsage;
  }
  absl::StatusOr<Invocation> inv = ParseArgs(args, CommandTable());
  if (!inv.ok()) {
    err << FormatError(inv.status()) << "\n";
    PrintUsageHint(args, err);
    return ExitCodeFor(inv.status());
  }
  if (inv->help) {
    out << UsageText(CommandTable(), inv->command);
    return kExitOk;
  }
  Printer printer(inv->globals.output == "json" ? OutputFormat::kJson : OutputFormat::kTable, out);
  const absl::Status status = RunWithConnection(*inv, getenv, printer);
  out.flush();
  if (!status.ok()) {
    err << FormatError(status) << "\n";
    if (IsUsageError(status)) {
      PrintUsageHint(args, err);
    }
  }
  return ExitCodeFor(status);
}

}  // namespace pgqrs::cli
