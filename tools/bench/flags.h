// The command-line flags pgqrs-bench and store-bench share (Abseil flags), and the
// parsing both binaries start with.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/bench/options.h"

namespace pgqrs::bench {

// Parses argv. Flag names may be spelled with dashes (--daemon-pid) or underscores
// (--daemon_pid). Exits with usage on --help. INVALID_ARGUMENT for a positional argument.
absl::Status ParseFlags(int argc, char** argv, const std::string& usage);

// The shared workload flags as options, checked. INVALID_ARGUMENT names a bad flag.
absl::StatusOr<WorkloadOptions> WorkloadOptionsFromFlags();

}  // namespace pgqrs::bench
