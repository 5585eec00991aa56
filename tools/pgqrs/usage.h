// The pgqrs client's command table and the usage text generated from it.
//
// Thread safety: CommandTable() returns an immutable table built on first use.
#pragma once

#include <string>
#include <vector>

#include "tools/pgqrs/args.h"

namespace pgqrs::cli {

inline constexpr char kDefaultServer[] = "127.0.0.1:7468";
inline constexpr int64_t kDefaultTimeoutMs = 30000;

// Every command the client understands, in the order the usage text lists them.
const std::vector<CommandSpec>& CommandTable();

// One line: "pgqrs queue create NAME [--max-read-count N] ... [--if-not-exists]".
std::string Synopsis(const CommandSpec& spec);

// Usage for `topic`: overall usage when empty, the commands of a group ("queue"), or one
// command with its flags ("queue create"). REQUIRES: `topic` is a prefix of some command.
std::string UsageText(const std::vector<CommandSpec>& specs, const std::vector<std::string>& topic);

}  // namespace pgqrs::cli
