// The io_uring backend with its submission call made explicit, so that tests can make the
// kernel refuse or cut short a submission (engine/io/io_backend.h has the plain factory).
#pragma once

#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "engine/io/io_backend.h"

struct io_uring;

namespace pgqrs::engine {

// Hands the SQEs queued on `ring` to the kernel and waits until `wait_nr` completions are
// available, with the contract of liburing's io_uring_submit_and_wait: returns how many queued
// SQEs the kernel consumed (possibly fewer than were queued; the rest stay queued and the next
// call hands them over again), or -errno with none consumed by this call.
using UringSubmitFn = std::function<int(io_uring* ring, unsigned wait_nr)>;

// NewUringBackend() with every batch of writes of every file it opens submitted by `submit`.
// A failed submission is retried while transient (EINTR, EAGAIN, EBUSY; bounded); otherwise the
// file reaps what the kernel did take and refuses all further I/O with that error.
absl::StatusOr<std::shared_ptr<IoBackend>> NewUringBackend(UringSubmitFn submit);

}  // namespace pgqrs::engine
