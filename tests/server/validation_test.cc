#include "server/validation.h"

#include <catch2/catch.hpp>

#include "server/receipt.h"

namespace pgqrs::server {
namespace {

TEST_CASE("names follow [A-Za-z0-9_.-]{1,128}", "[server][validation]") {
  CHECK(CheckName("name", "orders.v2-high_prio").ok());
  CHECK(CheckName("name", std::string(128, 'a')).ok());
  for (const std::string& bad : {std::string(""), std::string(129, 'a'), std::string("a b"),
                                 std::string("ü"), std::string("a/b"), std::string("x\n")}) {
    absl::Status s = CheckName("name", bad);
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    CHECK(s.message().find("name:") == 0);
  }
}

TEST_CASE("JSON is parsed for real and sized", "[server][validation]") {
  CHECK(CheckJson("p", R"({"a":[1,2,{"b":null}]})", 100).ok());
  CHECK(CheckJson("p", "42", 100).ok());
  CHECK(CheckJson("p", R"({"a":})", 100).code() == absl::StatusCode::kInvalidArgument);
  CHECK(CheckJson("p", "", 100).code() == absl::StatusCode::kInvalidArgument);
  CHECK(CheckJson("p", R"({"a":1} trailing)", 100).code() == absl::StatusCode::kInvalidArgument);
  // What PostgreSQL's JSONB would refuse is refused for every store.
  absl::Status nul = CheckJson("messages[0].payload_json", R"(["\u0000"])", 100);
  CHECK(nul.code() == absl::StatusCode::kInvalidArgument);
  CHECK(nul.message() == "messages[0].payload_json: \\u0000 is not supported in JSON strings");
  CHECK(CheckJson("p", R"(["\ud800"])", 100).code() == absl::StatusCode::kInvalidArgument);
  CHECK(CheckJson("p", std::string(101, '1'), 100).code() == absl::StatusCode::kResourceExhausted);
}

TEST_CASE("batches, durations and page sizes are bounded", "[server][validation]") {
  CHECK(CheckBatch("m", 0, 10).code() == absl::StatusCode::kInvalidArgument);
  CHECK(CheckBatch("m", 10, 10).ok());
  CHECK(CheckBatch("m", 11, 10).code() == absl::StatusCode::kResourceExhausted);
  CHECK(*CheckMillis("t", 1500, absl::Seconds(2)) == absl::Milliseconds(1500));
  CHECK(CheckMillis("t", -1, absl::Seconds(2)).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(CheckMillis("t", 2001, absl::Seconds(2)).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(*CheckPageSize(0, 100, 1000) == 100);
  CHECK(CheckPageSize(-1, 100, 1000).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(CheckPageSize(1001, 100, 1000).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(*DecodePageToken(EncodePageToken("queue/with+odd=chars")) == "queue/with+odd=chars");
  CHECK(DecodePageToken("!!!").status().code() == absl::StatusCode::kInvalidArgument);
  // The default never exceeds the configured maximum.
  CHECK(*CheckPageSize(0, 100, 20) == 20);
  CHECK(*DecodeIdPageToken(EncodeIdPageToken(42)) == 42);
  CHECK(*DecodeIdPageToken("") == 0);
  IdPage page = *CheckIdPage(0, EncodeIdPageToken(7), 50);
  CHECK(page.size == 50);
  CHECK(page.after_id == 7);
  CHECK(CheckIdPage(51, "", 50).status().message() ==
        CheckPageSize(51, kDefaultPageSize, 50).status().message());
  CHECK(CheckIdPage(10, EncodePageToken("x"), 50).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(DecodeIdPageToken(EncodePageToken("x")).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(DecodeIdPageToken(EncodePageToken("-3")).status().code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE("receipts round-trip and garbage is refused", "[server][receipt]") {
  storage::Lease lease{123456789, 0x7fffffffffffffff};
  absl::StatusOr<storage::Lease> back = DecodeReceipt("r", EncodeReceipt(lease));
  REQUIRE(back.ok());
  CHECK(back->message_id == lease.message_id);
  CHECK(back->token == lease.token);
  for (const char* bad : {"", "-", "1-", "-1", "0-1", "1-0", "g-1", "1-1-1", "ffffffffffffffff-1",
                          "11111111111111111-1", " 1-1"}) {
    INFO(bad);
    CHECK(DecodeReceipt("receipts[3]", bad).status().code() == absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace pgqrs::server
