#include "tools/pgqrs/args.h"

#include <catch2/catch.hpp>

#include "tools/pgqrs/errors.h"
#include "tools/pgqrs/usage.h"

namespace pgqrs::cli {
namespace {

absl::StatusOr<Invocation> Parse(std::vector<std::string> args) {
  return ParseArgs(args, CommandTable());
}

// The usage-error message for `args`; fails the test if parsing succeeds.
std::string ParseError(std::vector<std::string> args) {
  absl::StatusOr<Invocation> inv = Parse(std::move(args));
  REQUIRE_FALSE(inv.ok());
  CHECK(IsUsageError(inv.status()));
  CHECK(ExitCodeFor(inv.status()) == kExitUsage);
  return std::string(inv.status().message());
}

using Words = std::vector<std::string>;

TEST_CASE("parser matches command words and keeps positionals in order", "[cli][args]") {
  auto inv = Parse({"queue", "create", "orders"});
  REQUIRE(inv.ok());
  CHECK_FALSE(inv->help);
  CHECK(inv->command == Words{"queue", "create"});
  CHECK(inv->args == Words{"orders"});

  inv = Parse({"send", "q", "{\"a\":1}", "[2]", "3"});
  REQUIRE(inv.ok());
  CHECK(inv->command == Words{"send"});
  CHECK(inv->args == Words{"q", "{\"a\":1}", "[2]", "3"});
}

TEST_CASE("parser accepts flags anywhere after the command words", "[cli][args]") {
  SECTION("before, between and after positionals, in both spellings") {
    auto inv = Parse({"send", "--priority=7", "q", "--delay-ms", "250", "{}", "--dedup-key=k"});
    REQUIRE(inv.ok());
    CHECK(inv->args == Words{"q", "{}"});
    CHECK(inv->GetInt("priority") == 7);
    CHECK(inv->GetInt("delay-ms") == 250);
    CHECK(inv->GetString("dedup-key") == "k");
    CHECK(inv->GetInt("max", 42) == 42);  // absent: the fallback
  }
  SECTION("boolean flags take no separate value") {
    auto inv = Parse({"queue", "delete", "--force", "orders"});
    REQUIRE(inv.ok());
    CHECK(inv->Has("force"));
    CHECK(inv->args == Words{"orders"});
  }
  SECTION("boolean flags accept =true and =false") {
    auto inv = Parse({"queue", "delete", "orders", "--force=false"});
    REQUIRE(inv.ok());
    CHECK_FALSE(inv->Has("force"));
    CHECK(ParseError({"queue", "delete", "orders", "--force=yes"}) ==
          "--force takes true or false, not \"yes\"");
  }
  SECTION("global flags may come before the command") {
    auto inv = Parse({"--server", "db:1", "--output=json", "queue", "list", "--timeout-ms=5"});
    REQUIRE(inv.ok());
    CHECK(inv->command == Words{"queue", "list"});
    CHECK(inv->globals.server == "db:1");
    CHECK(inv->globals.output == "json");
    CHECK(inv->globals.timeout_ms == 5);
    CHECK_FALSE(inv->globals.token_file.has_value());
  }
}

TEST_CASE("parser treats single-dash tokens and everything after -- as positionals",
          "[cli][args]") {
  auto inv = Parse({"send", "q", "-5", "--", "--not-a-flag"});
  REQUIRE(inv.ok());
  CHECK(inv->args == Words{"q", "-5", "--not-a-flag"});
}

TEST_CASE("parser keeps every value of a repeatable flag", "[cli][args]") {
  auto inv =
      Parse({"worker", "register", "w1", "--role=consumer", "--label", "a=1", "--label=b=2"});
  REQUIRE(inv.ok());
  CHECK(inv->GetAll("label") == Words{"a=1", "b=2"});
  CHECK(ParseError({"recv", "q", "--max=1", "--max=2"}) == "flag --max given more than once");
}

TEST_CASE("parser reports usage errors naming what is wrong", "[cli][args]") {
  CHECK(ParseError({"frob"}) == "unknown command \"frob\"");
  CHECK(ParseError({"queue"}) ==
        "\"queue\" needs a subcommand: create, list, get, delete, purge, stats");
  CHECK(ParseError({"queue", "nuke", "q"}) ==
        "unknown queue command \"nuke\" (expected one of: create, list, get, delete, purge, "
        "stats)");
  CHECK(ParseError({"recv", "q", "--bogus"}) == "unknown flag --bogus for \"recv\"");
  CHECK(ParseError({"--max=1", "recv", "q"}) ==
        "unknown flag --max (command flags go after the command words)");
  CHECK(ParseError({"recv", "q", "--max"}) == "flag --max needs a value (N)");
  CHECK(ParseError({"recv", "q", "--max=ten"}) == "--max must be an integer, not \"ten\"");
  CHECK(ParseError({"recv"}) == "recv: missing argument QUEUE");
  CHECK(ParseError({"send", "q"}) == "send: missing argument JSON");
  CHECK(ParseError({"queue", "get", "a", "b"}) == "queue get: unexpected argument \"b\"");
  CHECK(ParseError({"extend", "q", "r1"}) == "extend: missing flag --vt-ms MS");
  CHECK(ParseError({"worker", "register", "w"}) == "worker register: missing flag --role ROLE");
  CHECK(ParseError({"queue", "list", "--output=xml"}) ==
        "--output must be table or json, not \"xml\"");
  CHECK(ParseError({"queue", "list", "--timeout-ms=0"}) == "--timeout-ms must be positive");
  CHECK(ParseError({}) == "missing command");
}

TEST_CASE("parser accepts optional and variadic positionals", "[cli][args]") {
  auto all = Parse({"dlq", "redrive", "q"});
  REQUIRE(all.ok());
  CHECK(all->args == Words{"q"});
  auto some = Parse({"dlq", "redrive", "q", "4", "9"});
  REQUIRE(some.ok());
  CHECK(some->args == Words{"q", "4", "9"});
  CHECK(ParseError({"ack", "q"}) == "ack: missing argument RECEIPT");
}

TEST_CASE("help is recognised in every spelling and names its topic", "[cli][args]") {
  auto overall = Parse({"help"});
  REQUIRE(overall.ok());
  CHECK(overall->help);
  CHECK(overall->command.empty());

  auto group = Parse({"help", "queue"});
  REQUIRE(group.ok());
  CHECK(group->command == Words{"queue"});

  auto flag = Parse({"--server", "x:1", "queue", "create", "--bogus", "--help"});
  REQUIRE(flag.ok());
  CHECK(flag->help);
  CHECK(flag->command == Words{"queue", "create"});

  auto short_flag = Parse({"send", "-h"});
  REQUIRE(short_flag.ok());
  CHECK(short_flag->command == Words{"send"});

  CHECK(ParseError({"help", "nonsense"}) == "no help for \"nonsense\"");
}

TEST_CASE("ParseInt64 rejects non-integers and overflow", "[cli][args]") {
  CHECK(*ParseInt64("-12", "x") == -12);
  CHECK_FALSE(ParseInt64("1.5", "x").ok());
  CHECK_FALSE(ParseInt64("99999999999999999999", "x").ok());
  CHECK(ParseInt64("", "WORKER_ID").status().message() == "WORKER_ID must be an integer, not \"\"");
}

}  // namespace
}  // namespace pgqrs::cli
