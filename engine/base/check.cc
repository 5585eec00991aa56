#include <cstdio>
#include <cstdlib>

#include "engine/base/status_macros.h"

namespace pgqrs::base {

void CheckFailed(const char* file, int line, const char* condition) {
  std::fprintf(stderr, "%s:%d: check failed: %s\n", file, line, condition);
  std::abort();
}

}  // namespace pgqrs::base
