// How the pgqrs client classifies failures and turns them into an exit status.
//
//   0  success
//   1  the server answered with an error (any gRPC status), or some receipts failed
//   2  usage error: bad command line or input rejected before anything was sent
//
// Usage errors and partial failures are absl::Status values with a marker payload, so
// every layer can propagate them with the ordinary Status macros.
#pragma once

#include <ostream>
#include <string>

#include "absl/status/status.h"

namespace pgqrs::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// A command-line or local-input error (exit 2). `message` says what is wrong.
absl::Status UsageError(const std::string& message);
bool IsUsageError(const absl::Status& status);

// Some items of a batch failed and were already reported on stdout (exit 1).
absl::Status PartialFailure(const std::string& message);
bool IsPartialFailure(const absl::Status& status);

// The exit status for `status`: kExitOk, kExitFailure or kExitUsage.
int ExitCodeFor(const absl::Status& status);

// The line printed on stderr for a failed `status`, without a newline:
//   usage errors and partial failures: "error: <message>"
//   everything else:                    "error: <CODE_NAME>: <message>"
std::string FormatError(const absl::Status& status);

}  // namespace pgqrs::cli
