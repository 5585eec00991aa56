#include "tools/pgqrs/usage.h"

#include <catch2/catch.hpp>
#include <set>

#include "absl/strings/str_join.h"

namespace pgqrs::cli {
namespace {

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST_CASE("the command table holds every command of the issue exactly once", "[cli][usage]") {
  std::set<std::string> names;
  for (const CommandSpec& spec : CommandTable()) {
    CHECK(names.insert(absl::StrJoin(spec.words, " ")).second);
  }
  const std::set<std::string> expected = {"queue create",
                                          "queue list",
                                          "queue get",
                                          "queue delete",
                                          "queue purge",
                                          "queue stats",
                                          "send",
                                          "recv",
                                          "consume",
                                          "ack",
                                          "nack",
                                          "delete",
                                          "extend",
                                          "dlq list",
                                          "dlq redrive",
                                          "worker register",
                                          "worker list",
                                          "worker get",
                                          "worker heartbeat",
                                          "worker suspend",
                                          "worker resume",
                                          "worker interrupt",
                                          "worker shutdown",
                                          "workflow create",
                                          "workflow list",
                                          "run start",
                                          "run get",
                                          "run wait",
                                          "run cancel",
                                          "run extend",
                                          "run list",
                                          "run steps",
                                          "admin verify",
                                          "admin stats",
                                          "admin info",
                                          "admin migrate",
                                          "admin token create",
                                          "admin reclaim"};
  CHECK(names == expected);
}

TEST_CASE("a synopsis shows positionals, optional and required flags", "[cli][usage]") {
  CHECK(Synopsis(*FindCommand(CommandTable(), {"queue", "create"})) ==
        "pgqrs queue create NAME [--max-read-count N] [--vt-ms MS] [--if-not-exists]");
  CHECK(Synopsis(*FindCommand(CommandTable(), {"worker", "register"})) ==
        "pgqrs worker register NAME --role ROLE [--queue QUEUE] [--hostname HOST] "
        "[--label K=V]...");
  CHECK(Synopsis(*FindCommand(CommandTable(), {"extend"})) ==
        "pgqrs extend QUEUE RECEIPT... --vt-ms MS");
}

TEST_CASE("overall usage lists every command, the global flags and exit codes", "[cli][usage]") {
  const std::string text = UsageText(CommandTable(), {});
  for (const CommandSpec& spec : CommandTable()) {
    CHECK(Contains(text, Synopsis(spec)));
  }
  CHECK(Contains(text, "--server HOST:PORT"));
  CHECK(Contains(text, "PGQRS_TOKEN"));
  CHECK(Contains(text, "--output FORMAT"));
  CHECK(Contains(text, "Exit status"));
}

TEST_CASE("group usage lists only that group; command usage explains each flag", "[cli][usage]") {
  const std::string group = UsageText(CommandTable(), {"dlq"});
  CHECK(Contains(group, "pgqrs dlq list QUEUE"));
  CHECK_FALSE(Contains(group, "pgqrs queue create"));

  const std::string command = UsageText(CommandTable(), {"recv"});
  CHECK(Contains(command, "Usage: pgqrs recv QUEUE"));
  CHECK(Contains(command, "  --wait-ms MS    long-poll up to MS for a message\n"));
}

}  // namespace
}  // namespace pgqrs::cli
