// Small helpers the engine benchmarks share: command-line flags and the machine's load.
#pragma once

#include <cstdio>
#include <cstring>

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

}  // namespace pgqrs::engine_bench
