// Status propagation helpers. Abseil 20220623 (Debian's) has no RETURN_IF_ERROR or
// ASSIGN_OR_RETURN, so the project defines its own under the PGQRS_ prefix.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Evaluates `expr` (an absl::Status) and returns it from the enclosing function if not OK.
#define PGQRS_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::absl::Status pgqrs_status_ = (expr);         \
    if (!pgqrs_status_.ok()) return pgqrs_status_; \
  } while (0)

#define PGQRS_STATUS_CONCAT_INNER_(a, b) a##b
#define PGQRS_STATUS_CONCAT_(a, b) PGQRS_STATUS_CONCAT_INNER_(a, b)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status, else moves the
// value into `lhs`, which may be a declaration: PGQRS_ASSIGN_OR_RETURN(auto page, Fetch(id));
#define PGQRS_ASSIGN_OR_RETURN(lhs, rexpr) \
  PGQRS_ASSIGN_OR_RETURN_IMPL_(PGQRS_STATUS_CONCAT_(pgqrs_statusor_, __LINE__), lhs, rexpr)

#define PGQRS_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                  \
  if (!statusor.ok()) return std::move(statusor).status();  \
  lhs = std::move(statusor).value()

// Aborts with a message when an invariant that can only break through a bug fails.
#define PGQRS_CHECK(cond)                                                              \
  do {                                                                                 \
    if (!(cond)) ::pgqrs::base::CheckFailed(__FILE__, __LINE__, #cond);                \
  } while (0)

namespace pgqrs::base {
[[noreturn]] void CheckFailed(const char* file, int line, const char* condition);
}  // namespace pgqrs::base
