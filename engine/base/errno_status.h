// Maps errno values (and io_uring's negative cqe->res) to absl::Status.
// Thread safety: stateless, safe from any thread.
#pragma once

#include <string>

#include "absl/status/status.h"

namespace pgqrs::engine {

// Returns a status for `err` (a positive errno), with `context` (usually the file name and
// operation) prefixed to the message. ENOENT -> NotFound, ENOSPC -> ResourceExhausted,
// EAGAIN/EWOULDBLOCK/EACCES on a lock -> Unavailable, everything else -> Internal.
absl::Status ErrnoToStatus(const std::string& context, int err);

// True for the statuses an I/O failure leaves behind: those ErrnoToStatus makes of a failed
// read, write or sync (Internal, ResourceExhausted, Unavailable) and DataLoss for a page that
// is damaged or fails authentication.
bool IsIoError(const absl::Status& s);

}  // namespace pgqrs::engine
