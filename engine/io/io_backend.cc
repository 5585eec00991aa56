#include "engine/io/io_backend.h"

#include <cstdlib>
#include <string>

#include "spdlog/spdlog.h"

namespace pgqrs::engine {

absl::StatusOr<std::shared_ptr<IoBackend>> CreateIoBackend(IoBackendKind kind) {
  if (kind == IoBackendKind::kAuto) {
    const char* env = std::getenv("PGQRS_ENGINE_IO");
    if (env != nullptr && std::string(env) == "posix") kind = IoBackendKind::kPosix;
    if (env != nullptr && std::string(env) == "uring") kind = IoBackendKind::kUring;
  }
  switch (kind) {
    case IoBackendKind::kPosix:
      return NewPosixBackend();
    case IoBackendKind::kUring:
      return NewUringBackend();
    case IoBackendKind::kAuto:
      break;
  }
  absl::StatusOr<std::shared_ptr<IoBackend>> uring = NewUringBackend();
  if (uring.ok()) {
    spdlog::info("engine: using io_uring backend");
    return uring;
  }
  spdlog::warn("engine: io_uring unavailable ({}), using POSIX backend",
               std::string(uring.status().message()));
  return NewPosixBackend();
}

}  // namespace pgqrs::engine
