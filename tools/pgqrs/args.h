// Command-line parsing for the pgqrs client.
//
// A command line is a path of command words ("queue create"), positional arguments and
// flags. Flags may appear anywhere after the command words, as `--name=value` or
// `--name value` (boolean flags take no separate value). A lone `--` ends flag parsing;
// everything after it is positional. Single-dash tokens other than `-h` are positional, so
// negative numbers can be passed as JSON payloads.
//
// The grammar of each command is data (CommandSpec), so the same table drives parsing and
// the usage text. Parsing is pure: it reads no environment and performs no I/O.
//
// Thread safety: all types here are values; concurrent reads are safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace pgqrs::cli {

enum class FlagKind {
  kBool,    // --force, or --force=true|false
  kString,  // --queue NAME
  kInt,     // --max 10; validated as a signed 64-bit integer while parsing
};

struct FlagSpec {
  std::string name;  // without the leading "--"
  FlagKind kind = FlagKind::kBool;
  std::string value_name;   // shown in usage, e.g. "MS"; empty for kBool
  std::string help;         // one line
  bool repeatable = false;  // may be given more than once (values kept in order)
  bool required = false;    // ParseArgs fails when the flag is absent
};

struct CommandSpec {
  std::vector<std::string> words;  // e.g. {"queue", "create"}
  // Positional argument names, in order. "X" is required, "[X]" optional, "X..." one or
  // more, "[X...]" zero or more. Only the last argument may be optional or variadic.
  std::vector<std::string> positionals;
  std::vector<FlagSpec> flags;
  std::string summary;  // one line
  std::string section;  // heading the command is listed under in the usage text
};

// Flags understood by every command.
struct GlobalFlags {
  std::optional<std::string> server;  // --server=HOST:PORT
  std::optional<std::string> token_file;  // --token-file=PATH (--token itself is refused)
  std::optional<std::string> tls_ca;      // --tls-ca=PEM: use TLS, trusting this CA
  std::optional<std::string> tls_cert;    // --tls-cert=PEM: client certificate (mTLS)
  std::optional<std::string> tls_key;     // --tls-key=PEM: its private key
  std::optional<int64_t> timeout_ms;  // --timeout-ms=N
  std::optional<std::string> output;  // --output=table|json
};

// The result of parsing one command line.
struct Invocation {
  // Set when help was asked for (`help [WORDS...]`, `--help` or `-h`). `command` then holds
  // the words naming the topic, possibly a group ("queue") or nothing (overall usage).
  bool help = false;
  std::vector<std::string> command;  // the matched CommandSpec's words
  std::vector<std::string> args;     // positional arguments after the command words
  std::map<std::string, std::vector<std::string>> flags;  // raw values; bools are "true"/"false"
  GlobalFlags globals;

  // True if the flag was given (for booleans: given and not =false).
  bool Has(std::string_view name) const;
  // The flag's value, or `fallback` when absent. REQUIRES: a kString flag.
  std::string GetString(std::string_view name, std::string fallback = "") const;
  // The flag's value, or `fallback` when absent. REQUIRES: a kInt flag (validated by Parse).
  int64_t GetInt(std::string_view name, int64_t fallback = 0) const;
  // Every value of a repeatable flag, in command-line order.
  std::vector<std::string> GetAll(std::string_view name) const;
};

// Parses `args` (argv without the program name) against `specs`.
// Errors (usage errors, see errors.h, with a message naming the offending token): unknown
// command, missing subcommand, unknown flag, flag without value, bad integer or boolean,
// repeated flag, missing required flag, missing or unexpected positional argument.
absl::StatusOr<Invocation> ParseArgs(const std::vector<std::string>& args,
                                     const std::vector<CommandSpec>& specs);

// The spec whose words equal `words`, or nullptr.
const CommandSpec* FindCommand(const std::vector<CommandSpec>& specs,
                               const std::vector<std::string>& words);

// Parses a signed 64-bit decimal integer; `what` names the value in the error message.
absl::StatusOr<int64_t> ParseInt64(std::string_view text, std::string_view what);

}  // namespace pgqrs::cli
