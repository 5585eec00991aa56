#include "tools/pgqrs/errors.h"

#include <catch2/catch.hpp>

namespace pgqrs::cli {
namespace {

TEST_CASE("server errors print their canonical code name and exit 1", "[cli][errors]") {
  const absl::Status status = absl::NotFoundError("queue \"x\" not found");
  CHECK(FormatError(status) == "error: NOT_FOUND: queue \"x\" not found");
  CHECK(ExitCodeFor(status) == kExitFailure);
  CHECK(FormatError(absl::FailedPreconditionError("queue not empty")) ==
        "error: FAILED_PRECONDITION: queue not empty");
  CHECK(FormatError(absl::UnavailableError("down")) == "error: UNAVAILABLE: down");
}

TEST_CASE("usage errors print their message alone and exit 2", "[cli][errors]") {
  const absl::Status status = UsageError("send: missing argument JSON");
  CHECK(IsUsageError(status));
  CHECK_FALSE(IsPartialFailure(status));
  CHECK(FormatError(status) == "error: send: missing argument JSON");
  CHECK(ExitCodeFor(status) == kExitUsage);
}

TEST_CASE("a plain INVALID_ARGUMENT from the server is not a usage error", "[cli][errors]") {
  const absl::Status status = absl::InvalidArgumentError("messages[0].payload_json: bad JSON");
  CHECK_FALSE(IsUsageError(status));
  CHECK(ExitCodeFor(status) == kExitFailure);
  CHECK(FormatError(status) == "error: INVALID_ARGUMENT: messages[0].payload_json: bad JSON");
}

TEST_CASE("partial failures exit 1 without a code name", "[cli][errors]") {
  const absl::Status status = PartialFailure("ack: 1 of 2 receipts failed");
  CHECK(IsPartialFailure(status));
  CHECK(ExitCodeFor(status) == kExitFailure);
  CHECK(FormatError(status) == "error: ack: 1 of 2 receipts failed");
  CHECK(ExitCodeFor(absl::OkStatus()) == kExitOk);
}

}  // namespace
}  // namespace pgqrs::cli
