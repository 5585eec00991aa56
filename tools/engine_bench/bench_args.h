// Small helpers the engine benchmarks share: command-line flags, the machine's load, and
// ending the run on an error.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pgqrs::engine_bench {

// The value of `arg` when it is `--name=value`, else nullptr.
inline const char* FlagValue(const char* arg, const char* name) {
  const size_t len = std::strlen(name);
  if (std::strncmp(arg, "--", 2) != 0 || std::strncmp(arg + 2, name, len) != 0 ||
      arg[2 + len] != '=') {
    return nullptr;
  }
  return arg + 3 + len;
}

// The 1-minute load average (how busy the shared machine was); 0 when unknown.
inline double LoadAverage() {
  double load = 0;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) != 1) load = 0;
    std::fclose(f);
  }
  return load;
}

// Prints "<program>: <what>" and exits with status 2.
[[noreturn]] inline void Die(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, what.c_str());
  std::exit(2);
}

// Dies naming `what` unless `s` is OK.
inline void Check(const absl::Status& s, const char* what) {
  if (!s.ok()) Die(std::string(what) + ": " + s.ToString());
}

// The value of `v`, or dies naming `what`.
template <typename T>
T Take(absl::StatusOr<T> v, const char* what) {
  Check(v.status(), what);
  return std::move(*v);
}

}  // namespace pgqrs::engine_bench
