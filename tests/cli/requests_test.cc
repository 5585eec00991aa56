#include "tools/pgqrs/requests.h"

#include <catch2/catch.hpp>

#include "tools/pgqrs/errors.h"
#include "tools/pgqrs/usage.h"

namespace pgqrs::cli {
namespace {

Invocation Parse(std::vector<std::string> args) {
  absl::StatusOr<Invocation> inv = ParseArgs(args, CommandTable());
  REQUIRE(inv.ok());
  return *std::move(inv);
}

TEST_CASE("send checks every payload and names the malformed argument", "[cli][requests]") {
  CHECK(ValidatePayloads({"{}", "[1,2]", "\"s\"", "-5", "null"}).ok());

  const absl::Status bad = ValidatePayloads({"{\"a\":1}", "{\"a\":}"});
  CHECK(IsUsageError(bad));
  CHECK(std::string(bad.message())
            .starts_with("JSON argument 2 (messages[1].payload_json) is malformed: parse error"));

  CHECK_FALSE(ValidatePayloads({"{} {}"}).ok());  // one document per argument
  CHECK_FALSE(ValidatePayloads({""}).ok());
  CHECK_FALSE(ValidatePayloads({"{'a':1}"}).ok());
}

TEST_CASE("send builds one batch with the flags applied to every message", "[cli][requests]") {
  auto request = BuildEnqueueRequest(Parse({"send", "orders", "{\"n\":1}", "{\"n\":2}",
                                            "--priority=3", "--delay-ms=500", "--worker-id", "9"}));
  REQUIRE(request.ok());
  CHECK(request->queue() == "orders");
  CHECK(request->producer_worker_id() == 9);
  REQUIRE(request->messages_size() == 2);
  CHECK(request->messages(0).payload_json() == "{\"n\":1}");
  CHECK(request->messages(1).payload_json() == "{\"n\":2}");
  for (const v1::NewMessage& m : request->messages()) {
    CHECK(m.priority() == 3);
    CHECK(m.delay_ms() == 500);
    CHECK(m.dedup_key().empty());
  }
}

TEST_CASE("send rejects bad input before anything is sent", "[cli][requests]") {
  auto bad_json = BuildEnqueueRequest(Parse({"send", "q", "{}", "nope"}));
  CHECK(IsUsageError(bad_json.status()));
  CHECK(std::string(bad_json.status().message()).starts_with("JSON argument 2 "));

  auto dedup = BuildEnqueueRequest(Parse({"send", "q", "{}", "{}", "--dedup-key=k"}));
  CHECK(dedup.status().message() == "--dedup-key needs exactly one JSON argument");
  CHECK(BuildEnqueueRequest(Parse({"send", "q", "{}", "--dedup-key=k"}))->messages(0).dedup_key() ==
        "k");

  auto overflow = BuildEnqueueRequest(Parse({"send", "q", "{}", "--priority=3000000000"}));
  CHECK(overflow.status().message() == "--priority is out of range: 3000000000");
}

TEST_CASE("queue create and recv map their flags to the request", "[cli][requests]") {
  auto create = BuildCreateQueueRequest(
      Parse({"queue", "create", "q", "--max-read-count=3", "--vt-ms=1000", "--if-not-exists"}));
  REQUIRE(create.ok());
  CHECK(create->name() == "q");
  CHECK(create->max_read_count() == 3);
  CHECK(create->visibility_timeout_ms() == 1000);
  CHECK(create->if_not_exists());

  auto recv = BuildDequeueRequest(
      Parse({"recv", "q", "--max", "10", "--vt-ms=2000", "--wait-ms=1500", "--worker-id=4"}));
  REQUIRE(recv.ok());
  CHECK(recv->queue() == "q");
  CHECK(recv->max_messages() == 10);
  CHECK(recv->visibility_timeout_ms() == 2000);
  CHECK(recv->wait_ms() == 1500);
  CHECK(recv->consumer_worker_id() == 4);
}

TEST_CASE("worker register parses role, labels and the default hostname", "[cli][requests]") {
  auto request =
      BuildRegisterWorkerRequest(Parse({"worker", "register", "w1", "--role=Consumer", "--queue=q",
                                        "--label=zone=eu=1", "--label", "tier=gold"}),
                                 "host-a");
  REQUIRE(request.ok());
  CHECK(request->name() == "w1");
  CHECK(request->queue() == "q");
  CHECK(request->role() == v1::WORKER_ROLE_CONSUMER);
  CHECK(request->hostname() == "host-a");
  CHECK(request->labels().at("zone") == "eu=1");
  CHECK(request->labels().at("tier") == "gold");

  auto named = BuildRegisterWorkerRequest(
      Parse({"worker", "register", "w", "--role=admin", "--hostname=h2"}), "host-a");
  REQUIRE(named.ok());
  CHECK(named->hostname() == "h2");

  auto bad_label = BuildRegisterWorkerRequest(
      Parse({"worker", "register", "w", "--role=admin", "--label=novalue"}), "h");
  CHECK(bad_label.status().message() == "--label must be KEY=VALUE, not \"novalue\"");
}

TEST_CASE("roles and statuses accept exactly their short names", "[cli][requests]") {
  CHECK(*ParseRole("producer") == v1::WORKER_ROLE_PRODUCER);
  CHECK(*ParseRole("ADMIN") == v1::WORKER_ROLE_ADMIN);
  CHECK(ParseRole("unspecified").status().message() ==
        "--role must be one of producer, consumer, admin, not \"unspecified\"");
  CHECK(*ParseWorkerStatus("suspended") == v1::WORKER_STATUS_SUSPENDED);
  CHECK(IsUsageError(ParseWorkerStatus("sleeping").status()));

  auto list = BuildListWorkersRequest(Parse({"worker", "list", "--status=stopped", "--queue=q"}));
  REQUIRE(list.ok());
  CHECK(list->status() == v1::WORKER_STATUS_STOPPED);
  CHECK(list->queue() == "q");
  CHECK(BuildListWorkersRequest(Parse({"worker", "list"}))->status() ==
        v1::WORKER_STATUS_UNSPECIFIED);
}

TEST_CASE("ids must be integers", "[cli][requests]") {
  CHECK(*ParseIds({"1", "22"}, "message id") == std::vector<int64_t>{1, 22});
  CHECK(ParseIds({"1", "x"}, "message id").status().message() ==
        "message id must be an integer, not \"x\"");
  CHECK(ParseIds({}, "message id")->empty());
}

}  // namespace
}  // namespace pgqrs::cli
