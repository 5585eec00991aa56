#include "tools/pgqrs/output.h"

#include <google/protobuf/util/time_util.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sstream>

#include "proto/pgqrs/v1/admin.pb.h"
#include "proto/pgqrs/v1/common.pb.h"
#include "tools/pgqrs/views.h"

namespace pgqrs::cli {
namespace {

using google::protobuf::util::TimeUtil;

v1::Message LeasedMessage() {
  v1::Message m;
  m.set_id(7);
  m.set_payload_json("{\"order\":42}");
  m.set_receipt("r-7-1");
  m.set_read_count(1);
  *m.mutable_visible_at() = TimeUtil::SecondsToTimestamp(1700000000);
  m.set_state(v1::MESSAGE_STATE_IN_FLIGHT);
  return m;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

TEST_CASE("tables left-align columns two spaces apart without trailing spaces", "[cli][output]") {
  const std::string text =
      RenderTable({"ID", "NAME", "N"}, {{"1", "alpha", "x"}, {"12345", "b", "yy"}});
  CHECK(text ==
        "ID     NAME   N\n"
        "1      alpha  x\n"
        "12345  b      yy\n");
}

TEST_CASE("table widths count UTF-8 code points, not bytes", "[cli][output]") {
  const std::string text = RenderTable({"K", "V"}, {{"héé", "1"}, {"abcd", "2"}});
  CHECK(text ==
        "K     V\n"
        "héé   1\n"
        "abcd  2\n");
}

TEST_CASE("an empty table still prints its header", "[cli][output]") {
  CHECK(RenderTable({"ID", "RECEIPT"}, {}) == "ID  RECEIPT\n");
}

TEST_CASE("field lists align values past the longest key", "[cli][output]") {
  CHECK(RenderFields({{"ok", "true"}, {"schema_version", "3"}}) ==
        "ok:              true\n"
        "schema_version:  3\n");
}

TEST_CASE("JSON uses proto field names, numbers for int64 and RFC 3339 times", "[cli][output]") {
  const nlohmann::json json = ProtoToJson(LeasedMessage());
  CHECK(json["id"] == 7);
  CHECK(json["id"].is_number_integer());
  CHECK(json["payload_json"] == "{\"order\":42}");
  CHECK(json["receipt"] == "r-7-1");
  CHECK(json["read_count"] == 1);
  CHECK(json["visible_at"] == "2023-11-14T22:13:20Z");
  CHECK(json["state"] == "MESSAGE_STATE_IN_FLIGHT");
  CHECK(json["priority"] == 0);  // scalars are always present
  CHECK(json["queue"] == "");
  CHECK_FALSE(json.contains("enqueued_at"));  // unset message fields are omitted
  CHECK_FALSE(json.contains("payloadJson"));
  CHECK_FALSE(json.contains("visibleAt"));
}

TEST_CASE("JSON renders maps as objects and repeated fields as arrays", "[cli][output]") {
  v1::Worker worker;
  worker.set_id(3);
  (*worker.mutable_labels())["zone"] = "a";
  (*worker.mutable_labels())["tier"] = "gold";
  worker.set_role(v1::WORKER_ROLE_CONSUMER);
  const nlohmann::json json = ProtoToJson(worker);
  CHECK(json["labels"] == nlohmann::json({{"tier", "gold"}, {"zone", "a"}}));
  CHECK(json["role"] == "WORKER_ROLE_CONSUMER");

  v1::VerifyResponse verify;
  verify.add_problems("orphan lease 4");
  CHECK(ProtoToJson(verify)["problems"] == nlohmann::json::array({"orphan lease 4"}));
  CHECK(ProtoToJson(v1::VerifyResponse())["problems"] == nlohmann::json::array());
}

TEST_CASE("table cells use short enum names, RFC 3339 times and '-' for empty", "[cli][output]") {
  const v1::Message m = LeasedMessage();
  CHECK(FieldText(m, "state") == "in_flight");
  CHECK(FieldText(m, "visible_at") == "2023-11-14T22:13:20Z");
  CHECK(FieldText(m, "enqueued_at") == "-");
  CHECK(FieldText(m, "queue") == "-");
  CHECK(FieldText(m, "id") == "7");

  v1::Worker worker;
  (*worker.mutable_labels())["zone"] = "a";
  (*worker.mutable_labels())["tier"] = "gold";
  worker.set_status(v1::WORKER_STATUS_SUSPENDED);
  CHECK(FieldText(worker, "labels") == "tier=gold,zone=a");
  CHECK(FieldText(worker, "status") == "suspended");

  v1::Queue queue;
  CHECK(FieldText(queue, "stats.pending") == "-");
  queue.mutable_stats()->set_pending(5);
  CHECK(FieldText(queue, "stats.pending") == "5");
}

TEST_CASE("records flatten nested messages to dotted names", "[cli][output]") {
  v1::Queue queue;
  queue.set_name("orders");
  queue.mutable_stats()->set_in_flight(2);
  const auto fields = FlattenFields(queue);
  REQUIRE(fields.size() == 4 + 6);
  CHECK(fields[0] == std::make_pair(std::string("name"), std::string("orders")));
  CHECK(fields[3].first == "created_at");
  CHECK(fields[4].first == "stats.pending");
  CHECK(fields[6] == std::make_pair(std::string("stats.in_flight"), std::string("2")));
}

TEST_CASE("printer shows recv results as a table or as one JSON object per line", "[cli][output]") {
  v1::Message second = LeasedMessage();
  second.set_id(8);
  second.set_receipt("r-8-1");
  const std::vector<v1::Message> messages = {LeasedMessage(), second};

  std::ostringstream table;
  Printer(OutputFormat::kTable, table).PrintRecords(ReceivedColumns(), Records(messages));
  const auto rows = Lines(table.str());
  REQUIRE(rows.size() == 3);
  CHECK(rows[0] == "ID  PAYLOAD_JSON  RECEIPT  READ_COUNT  VISIBLE_AT");
  CHECK(rows[1] == "7   {\"order\":42}  r-7-1    1           2023-11-14T22:13:20Z");
  CHECK(rows[2].starts_with("8   {\"order\":42}  r-8-1    1"));

  std::ostringstream json;
  Printer(OutputFormat::kJson, json).PrintRecords(ReceivedColumns(), Records(messages));
  const auto lines = Lines(json.str());
  REQUIRE(lines.size() == 2);
  CHECK(nlohmann::json::parse(lines[0])["id"] == 7);
  CHECK(nlohmann::json::parse(lines[1])["receipt"] == "r-8-1");
}

TEST_CASE("every table column names a real field", "[cli][output]") {
  // FieldText aborts on an unknown path, so rendering default records checks the lists.
  std::ostringstream out;
  Printer printer(OutputFormat::kTable, out);
  const v1::Queue queue;
  const v1::Message message;
  const v1::Worker worker;
  printer.PrintRecords(QueueColumns(), {&queue});
  printer.PrintRecords(ReceivedColumns(), {&message});
  printer.PrintRecords(DeadLetterColumns(), {&message});
  printer.PrintRecords(WorkerColumns(), {&worker});
  CHECK(Lines(out.str()).size() == 8);
  CHECK(Lines(out.str())[6] ==
        "ID  NAME  QUEUE  ROLE         STATUS       HOSTNAME  LEASED_MESSAGES  HEARTBEAT_AT");
  CHECK(Lines(out.str())[7] ==
        "0   -     -      unspecified  unspecified  -         0                -");
}

TEST_CASE("receipt results print per receipt and count the failures", "[cli][output]") {
  v1::ReceiptResponse response;
  response.add_results(v1::RECEIPT_RESULT_OK);
  response.add_results(v1::RECEIPT_RESULT_LEASE_LOST);  // the third result is missing

  std::ostringstream table;
  Printer table_printer(OutputFormat::kTable, table);
  CHECK(PrintReceiptResults(table_printer, {"a", "bb", "c"}, response) == 2);
  CHECK(table.str() ==
        "RECEIPT  RESULT\n"
        "a        ok\n"
        "bb       lease_lost\n"
        "c        unspecified\n");

  std::ostringstream json;
  Printer json_printer(OutputFormat::kJson, json);
  response.set_results(1, v1::RECEIPT_RESULT_OK);
  CHECK(PrintReceiptResults(json_printer, {"a", "bb"}, response) == 0);
  CHECK(json.str() ==
        "{\"receipt\":\"a\",\"result\":\"RECEIPT_RESULT_OK\"}\n"
        "{\"receipt\":\"bb\",\"result\":\"RECEIPT_RESULT_OK\"}\n");
}

TEST_CASE("send prints one id per row, or the EnqueueResponse in JSON", "[cli][output]") {
  v1::EnqueueResponse response;
  response.add_message_ids(10);
  response.add_message_ids(11);
  std::ostringstream table;
  Printer table_printer(OutputFormat::kTable, table);
  PrintMessageIds(table_printer, response);
  CHECK(table.str() == "ID\n10\n11\n");

  std::ostringstream json;
  Printer json_printer(OutputFormat::kJson, json);
  PrintMessageIds(json_printer, response);
  CHECK(json.str() == "{\"message_ids\":[10,11]}\n");
}

TEST_CASE("single records print as fields or one JSON line; notes are table-only",
          "[cli][output]") {
  v1::ServerInfo info;
  info.set_version("0.1.0");
  info.add_capabilities("long_poll");
  info.add_capabilities("dlq");
  std::ostringstream table;
  Printer table_printer(OutputFormat::kTable, table);
  table_printer.PrintRecord(info);
  table_printer.PrintNote("done");
  CHECK(Lines(table.str())[0] == "version:         0.1.0");
  CHECK(Lines(table.str())[3] == "capabilities:    long_poll, dlq");
  CHECK(Lines(table.str()).back() == "done");

  std::ostringstream json;
  Printer json_printer(OutputFormat::kJson, json);
  json_printer.PrintRecord(info);
  json_printer.PrintNote("done");
  CHECK(Lines(json.str()).size() == 1);
  CHECK(nlohmann::json::parse(json.str())["schema_version"] == 0);
}

}  // namespace
}  // namespace pgqrs::cli
