#include "tools/pgqrs/errors.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace pgqrs::cli {
namespace {

constexpr char kKindUrl[] = "type.pgqrs.dev/cli.error_kind";
constexpr char kUsage[] = "usage";
constexpr char kPartial[] = "partial";

absl::Status WithKind(absl::StatusCode code, const std::string& message, const char* kind) {
  absl::Status status(code, message);
  status.SetPayload(kKindUrl, absl::Cord(kind));
  return status;
}

bool HasKind(const absl::Status& status, const char* kind) {
  auto payload = status.GetPayload(kKindUrl);
  return payload.has_value() && *payload == kind;
}

}  // namespace

absl::Status UsageError(const std::string& message) {
  return WithKind(absl::StatusCode::kInvalidArgument, message, kUsage);
}

bool IsUsageError(const absl::Status& status) { return HasKind(status, kUsage); }

absl::Status PartialFailure(const std::string& message) {
  return WithKind(absl::StatusCode::kFailedPrecondition, message, kPartial);
}

bool IsPartialFailure(const absl::Status& status) { return HasKind(status, kPartial); }

int ExitCodeFor(const absl::Status& status) {
  if (status.ok()) {
    return kExitOk;
  }
  return IsUsageError(status) ? kExitUsage : kExitFailure;
}

std::string FormatError(const absl::Status& status) {
  if (IsUsageError(status) || IsPartialFailure(status)) {
    return absl::StrCat("error: ", status.message());
  }
  return absl::StrCat("error: ", absl::StatusCodeToString(status.code()), ": ", status.message());
}

}  // namespace pgqrs::cli
