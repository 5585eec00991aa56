#include "engine/base/errno_status.h"

#include <cerrno>
#include <cstring>

namespace pgqrs::engine {

absl::Status ErrnoToStatus(const std::string& context, int err) {
  std::string msg = context + ": " + std::strerror(err);
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(msg);
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(msg);
    case EAGAIN:
    case EACCES:
      return absl::UnavailableError(msg);
    case EINVAL:
      return absl::InvalidArgumentError(msg);
    default:
      return absl::InternalError(msg);
  }
}

bool IsIoError(const absl::Status& s) {
  return absl::IsDataLoss(s) || absl::IsInternal(s) || absl::IsResourceExhausted(s) ||
         absl::IsUnavailable(s);
}

}  // namespace pgqrs::engine
