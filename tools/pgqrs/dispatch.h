// The whole client behind main(): parse, help, connect, run one command, report.
//
// Thread safety: RunCli may be called from one thread at a time.
#pragma once

#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace pgqrs::cli {

// Looks up an environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// Runs the command line `args` (argv without the program name). Results go to `out`;
// errors go to `err` as one "error: ..." line (usage errors add the command's synopsis).
// Returns the exit status: 0 success, 1 server error or failed receipts, 2 usage error.
int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
           const EnvLookup& getenv);

}  // namespace pgqrs::cli
