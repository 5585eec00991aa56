#include "tools/pgqrs/usage.h"

#include <algorithm>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace pgqrs::cli {
namespace {

FlagSpec Bool(std::string name, std::string help) {
  return {std::move(name), FlagKind::kBool, "", std::move(help)};
}
FlagSpec Int(std::string name, std::string value_name, std::string help) {
  return {std::move(name), FlagKind::kInt, std::move(value_name), std::move(help)};
}
FlagSpec Str(std::string name, std::string value_name, std::string help) {
  return {std::move(name), FlagKind::kString, std::move(value_name), std::move(help)};
}
FlagSpec Required(FlagSpec flag) {
  flag.required = true;
  return flag;
}

std::vector<CommandSpec> QueueCommands() {
  const std::string s = "Queues";
  return {
      {{"queue", "create"},
       {"NAME"},
       {Int("max-read-count", "N", "deliveries before a message is dead-lettered (default 5)"),
        Int("vt-ms", "MS", "default visibility timeout (default 30000)"),
        Bool("if-not-exists", "succeed if the queue already exists")},
       "create a queue",
       s},
      {{"queue", "list"}, {}, {}, "list every queue", s},
      {{"queue", "get"}, {"NAME"}, {}, "show a queue's settings and statistics", s},
      {{"queue", "delete"},
       {"NAME"},
       {Bool("force", "delete even with messages or live workers")},
       "delete a queue",
       s},
      {{"queue", "purge"}, {"NAME"}, {}, "remove every message, keep the queue", s},
      {{"queue", "stats"}, {"NAME"}, {}, "count messages by state", s},
  };
}

std::vector<CommandSpec> MessageCommands() {
  const std::string s = "Messages";
  const std::string r = "RECEIPT...";
  return {
      {{"send"},
       {"QUEUE", "JSON..."},
       {Int("delay-ms", "MS", "deliver no earlier than MS from now"),
        Int("priority", "N", "higher priorities are received first"),
        Str("dedup-key", "KEY", "return the live message with this key instead (one JSON only)"),
        Int("worker-id", "ID", "the registered producer sending")},
       "enqueue one message per JSON argument, as one batch; prints the ids",
       s},
      {{"recv"},
       {"QUEUE"},
       {Int("max", "N", "lease up to N messages (default 1)"),
        Int("vt-ms", "MS", "visibility timeout (default: the queue's)"),
        Int("wait-ms", "MS", "long-poll up to MS for a message"),
        Int("worker-id", "ID", "the registered consumer receiving")},
       "lease visible messages; prints id, payload, receipt, read count, visible_at",
       s},
      {{"consume"},
       {"QUEUE"},
       {Int("credits", "N", "messages held unacked at once (default 10)"),
        Int("count", "N", "stop after N messages (default: until interrupted)"),
        Int("vt-ms", "MS", "visibility timeout (default: the queue's)"),
        Int("worker-id", "ID", "the registered consumer receiving")},
       "stream messages as they become visible; prints and acks each",
       s},
      {{"ack"}, {"QUEUE", r}, {}, "archive leased messages", s},
      {{"nack"},
       {"QUEUE", r},
       {Int("delay-ms", "MS", "release after MS instead of now")},
       "release leases so the messages are delivered again",
       s},
      {{"delete"}, {"QUEUE", r}, {}, "remove leased messages", s},
      {{"extend"},
       {"QUEUE", r},
       {Required(Int("vt-ms", "MS", "new lease length from now"))},
       "extend leases",
       s},
  };
}

std::vector<CommandSpec> DeadLetterCommands() {
  const std::string s = "Dead letters";
  return {
      {{"dlq", "list"}, {"QUEUE"}, {}, "list a queue's dead letters", s},
      {{"dlq", "redrive"},
       {"QUEUE", "[ID...]"},
       {},
       "return dead letters (all, or the given ids) to pending",
       s},
  };
}

std::vector<CommandSpec> WorkerCommands() {
  const std::string s = "Workers";
  const std::vector<std::string> id = {"WORKER_ID"};
  FlagSpec label = Str("label", "K=V", "a label (repeatable)");
  label.repeatable = true;
  return {
      {{"worker", "register"},
       {"NAME"},
       {Required(Str("role", "ROLE", "producer, consumer or admin")),
        Str("queue", "QUEUE", "the queue (empty for admin workers)"),
        Str("hostname", "HOST", "the worker's host (default: this host)"), label},
       "register a worker; prints its id",
       s},
      {{"worker", "list"},
       {},
       {Str("queue", "QUEUE", "only this queue's workers"),
        Str("status", "STATUS", "ready, polling, suspended, interrupted or stopped")},
       "list workers",
       s},
      {{"worker", "get"}, id, {}, "show a worker", s},
      {{"worker", "heartbeat"}, id, {}, "record a heartbeat; prints the status to follow", s},
      {{"worker", "suspend"}, id, {}, "ask a worker to pause", s},
      {{"worker", "resume"}, id, {}, "let a suspended worker continue", s},
      {{"worker", "interrupt"}, id, {}, "ask a worker to stop", s},
      {{"worker", "shutdown"},
       id,
       {Bool("release-messages", "release the worker's leases instead of failing")},
       "mark a worker stopped",
       s},
  };
}

std::vector<CommandSpec> WorkflowCommands() {
  const std::string s = "Workflows";
  const std::vector<std::string> id = {"RUN_ID"};
  return {
      {{"workflow", "create"},
       {"NAME"},
       {Int("max-attempts", "N", "starts of a step before it is exhausted (default 3)"),
        Int("base-backoff-ms", "MS", "wait after a step's first failure (default 1000)"),
        Int("max-backoff-ms", "MS", "cap of the doubling wait (default 60000)"),
        Str("jitter", "F", "fraction of each wait randomised away, 0 to 1 (default 0.25)"),
        Bool("if-not-exists", "succeed if the workflow already exists")},
       "create a workflow and its trigger queue",
       s},
      {{"workflow", "list"}, {}, {}, "list workflows", s},
      {{"run", "start"},
       {"WORKFLOW", "[JSON]"},
       {Str("idempotency-key", "KEY",
            "return the run already started with this key (and the same input)")},
       "start a run with JSON input (default null); prints the run",
       s},
      {{"run", "get"}, id, {}, "show a run", s},
      {{"run", "wait"},
       id,
       {Int("timeout-ms", "MS", "wait up to MS for the run to finish (default 30000)")},
       "wait until a run succeeds, fails or is cancelled; prints it",
       s},
      {{"run", "cancel"}, id, {}, "cancel a run (at once, or at its next step boundary)", s},
      {{"run", "extend"},
       {"RUN_ID", "RECEIPT"},
       {Required(Int("vt-ms", "MS", "new lease length from now"))},
       "keep a claimed run's lease alive during a long step",
       s},
      {{"run", "list"},
       {},
       {Str("workflow", "WORKFLOW", "only this workflow's runs"),
        Str("status", "STATUS",
            "queued, running, paused, succeeded, failed, cancelling or cancelled")},
       "list runs",
       s},
      {{"run", "steps"}, id, {}, "list a run's steps", s},
  };
}

std::vector<CommandSpec> AdminCommands() {
  const std::string s = "Administration";
  return {
      {{"admin", "verify"}, {}, {}, "check schema and integrity (exit 1 on problems)", s},
      {{"admin", "stats"}, {}, {}, "system-wide counts", s},
      {{"admin", "info"}, {}, {}, "server version, backend and capabilities", s},
      {{"admin", "migrate"}, {}, {}, "apply pending schema migrations", s},
      {{"admin", "token", "create"},
       {"NAME"},
       {Required(Str("role", "ROLES", "comma list of admin, producer, consumer, worker, reader")),
        Required(Str("queues", "GLOBS", "comma list of queue and workflow name globs"))},
       "make a new API token (offline): prints it once and its tokens-file line",
       s},
      {{"admin", "reclaim"},
       {},
       {Str("queue", "QUEUE", "only this queue (default: all)"),
        Int("older-than-ms", "MS", "silence threshold (default: the server's worker timeout)")},
       "stop silent workers and release their leases now",
       s},
  };
}

std::vector<CommandSpec> BuildTable() {
  std::vector<CommandSpec> table;
  for (auto group : {QueueCommands(), MessageCommands(), DeadLetterCommands(), WorkerCommands(),
                     WorkflowCommands(), AdminCommands()}) {
    std::move(group.begin(), group.end(), std::back_inserter(table));
  }
  return table;
}

std::string FlagUsage(const FlagSpec& flag) {
  std::string text = absl::StrCat("--", flag.name);
  if (flag.kind != FlagKind::kBool) {
    absl::StrAppend(&text, " ", flag.value_name);
  }
  return text;
}

constexpr char kGlobalHelp[] =
    "Global flags (anywhere on the line):\n"
    "  --server HOST:PORT  server address (env PGQRS_SERVER, default 127.0.0.1:7468)\n"
    "  --token-file PATH   file holding the API token (env PGQRS_TOKEN_FILE, or the\n"
    "                      token itself in env PGQRS_TOKEN); --token is refused, it\n"
    "                      would show the secret to other users\n"
    "  --tls-ca PEM        use TLS, trusting this CA (env PGQRS_TLS_CA)\n"
    "  --tls-cert PEM      client certificate for mTLS (env PGQRS_TLS_CERT)\n"
    "  --tls-key PEM       its private key (env PGQRS_TLS_KEY)\n"
    "  --timeout-ms MS     deadline per call (default 30000; recv adds --wait-ms)\n"
    "  --output FORMAT     table (default) or json: one object per line, proto field names\n"
    "  --help, -h          show help; also `pgqrs help [COMMAND]`\n";

constexpr char kExitHelp[] =
    "Exit status: 0 success; 1 server error (\"error: CODE: message\" on stderr) or a\n"
    "failed receipt; 2 usage error.\n";

std::string CommandList(const std::vector<CommandSpec>& specs,
                        const std::vector<std::string>& prefix) {
  std::string text;
  std::string section;
  for (const CommandSpec& spec : specs) {
    if (!std::equal(prefix.begin(), prefix.end(), spec.words.begin(),
                    spec.words.begin() + std::min(prefix.size(), spec.words.size()))) {
      continue;
    }
    if (spec.section != section) {
      section = spec.section;
      absl::StrAppend(&text, "\n", section, ":\n");
    }
    absl::StrAppend(&text, "  ", Synopsis(spec), "\n      ", spec.summary, "\n");
  }
  return text;
}

std::string CommandHelp(const CommandSpec& spec) {
  std::string text = absl::StrCat("Usage: ", Synopsis(spec), "\n\n", spec.summary, "\n");
  if (!spec.flags.empty()) {
    absl::StrAppend(&text, "\nFlags:\n");
    size_t width = 0;
    for (const FlagSpec& flag : spec.flags) {
      width = std::max(width, FlagUsage(flag).size());
    }
    for (const FlagSpec& flag : spec.flags) {
      const std::string usage = FlagUsage(flag);
      absl::StrAppend(&text, "  ", usage, std::string(width - usage.size() + 2, ' '), flag.help,
                      "\n");
    }
  }
  return text;
}

}  // namespace

const std::vector<CommandSpec>& CommandTable() {
  static const auto* const kTable = new std::vector<CommandSpec>(BuildTable());
  return *kTable;
}

std::string Synopsis(const CommandSpec& spec) {
  std::string text = absl::StrCat("pgqrs ", absl::StrJoin(spec.words, " "));
  for (const std::string& positional : spec.positionals) {
    absl::StrAppend(&text, " ", positional);
  }
  for (const FlagSpec& flag : spec.flags) {
    if (flag.required) {
      absl::StrAppend(&text, " ", FlagUsage(flag));
    } else {
      absl::StrAppend(&text, " [", FlagUsage(flag), "]", flag.repeatable ? "..." : "");
    }
  }
  return text;
}

std::string UsageText(const std::vector<CommandSpec>& specs,
                      const std::vector<std::string>& topic) {
  if (const CommandSpec* spec = FindCommand(specs, topic); spec != nullptr) {
    return absl::StrCat(CommandHelp(*spec), "\n", kGlobalHelp);
  }
  std::string text =
      "pgqrs: command-line client for the pgqrs queue server.\n\n"
      "Usage: pgqrs COMMAND [ARGS...] [FLAGS...]\n";
  absl::StrAppend(&text, CommandList(specs, topic), "\n", kGlobalHelp, "\n", kExitHelp);
  return text;
}

}  // namespace pgqrs::cli
