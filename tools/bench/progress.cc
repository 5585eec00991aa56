#include "tools/bench/progress.h"

#include <unistd.h>

#include <cstdio>

namespace pgqrs::bench {

Progress::Progress(bool enabled) : active_(enabled && isatty(STDERR_FILENO) == 1) {}

Progress::~Progress() {
  if (active_) std::fputs("\r\033[K", stderr);
}

void Progress::Show(const std::string& text) {
  if (!active_) return;
  std::fprintf(stderr, "\r\033[K%s", text.c_str());
  std::fflush(stderr);
}

}  // namespace pgqrs::bench
