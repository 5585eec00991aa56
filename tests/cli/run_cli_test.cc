// Drives RunCli end to end against an in-process fake QueueService on port 0: exit codes,
// error lines, the bearer token and what each command sends and prints. The fake answers
// from fixed rules; the real daemon is covered by the end-to-end suite.
#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "proto/pgqrs/v1/queue.grpc.pb.h"
#include "server/tokens.h"
#include "tools/pgqrs/dispatch.h"

namespace pgqrs::cli {
namespace {

class FakeQueues final : public v1::QueueService::Service {
 public:
  grpc::Status CreateQueue(grpc::ServerContext* ctx, const v1::CreateQueueRequest* req,
                           v1::Queue* resp) override {
    last_token = Token(*ctx);
    if (req->name() == "dup" && !req->if_not_exists()) {
      return {grpc::StatusCode::ALREADY_EXISTS, "queue \"dup\" already exists"};
    }
    resp->set_name(req->name());
    resp->set_max_read_count(req->max_read_count());
    return grpc::Status::OK;
  }

  grpc::Status GetQueue(grpc::ServerContext*, const v1::GetQueueRequest* req, v1::Queue*) override {
    return {grpc::StatusCode::NOT_FOUND, absl::StrCat("queue \"", req->name(), "\" not found")};
  }

  grpc::Status Enqueue(grpc::ServerContext*, const v1::EnqueueRequest* req,
                       v1::EnqueueResponse* resp) override {
    enqueued = *req;
    for (int i = 0; i < req->messages_size(); ++i) {
      resp->add_message_ids(100 + i);
    }
    return grpc::Status::OK;
  }

  grpc::Status Dequeue(grpc::ServerContext* ctx, const v1::DequeueRequest* req,
                       v1::DequeueResponse* resp) override {
    // The client must allow for the long-poll on top of its timeout.
    deadline_covers_wait = ctx->deadline() > std::chrono::system_clock::now() +
                                                 std::chrono::milliseconds(req->wait_ms());
    v1::Message* m = resp->add_messages();
    m->set_id(5);
    m->set_payload_json("{\"k\":1}");
    m->set_receipt("rcpt-5");
    m->set_read_count(1);
    m->mutable_visible_at()->set_seconds(1700000000);
    return grpc::Status::OK;
  }

  grpc::Status Ack(grpc::ServerContext*, const v1::AckRequest* req,
                   v1::ReceiptResponse* resp) override {
    for (const std::string& receipt : req->receipts()) {
      resp->add_results(receipt == "stale" ? v1::RECEIPT_RESULT_LEASE_LOST : v1::RECEIPT_RESULT_OK);
    }
    return grpc::Status::OK;
  }

  std::string last_token;
  v1::EnqueueRequest enqueued;
  bool deadline_covers_wait = false;

 private:
  static std::string Token(const grpc::ServerContext& ctx) {
    auto it = ctx.client_metadata().find("authorization");
    return it == ctx.client_metadata().end() ? ""
                                             : std::string(it->second.data(), it->second.size());
  }
};

struct Result {
  int code;
  std::string out;
  std::string err;
};

class FakeServer {
 public:
  FakeServer() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&queues);
    server_ = builder.BuildAndStart();
  }
  ~FakeServer() { server_->Shutdown(); }

  Result Run(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    args.push_back(absl::StrCat("--server=127.0.0.1:", port_));
    std::ostringstream out;
    std::ostringstream err;
    const int code = RunCli(args, out, err, [&](const std::string& name) {
      auto it = env.find(name);
      return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
    });
    return {code, out.str(), err.str()};
  }

  FakeQueues queues;

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

TEST_CASE("a server error exits 1 with its code name on stderr", "[cli][run]") {
  FakeServer server;
  const Result r = server.Run({"queue", "get", "x"});
  CHECK(r.code == 1);
  CHECK(r.out.empty());
  CHECK(r.err == "error: NOT_FOUND: queue \"x\" not found\n");

  const Result dup = server.Run({"queue", "create", "dup"});
  CHECK(dup.code == 1);
  CHECK(dup.err == "error: ALREADY_EXISTS: queue \"dup\" already exists\n");
  CHECK(server.Run({"queue", "create", "dup", "--if-not-exists"}).code == 0);
}

TEST_CASE("send validates locally, then enqueues one batch and prints the ids", "[cli][run]") {
  FakeServer server;
  const Result bad = server.Run({"send", "q", "{}", "{oops"});
  CHECK(bad.code == 2);
  CHECK(bad.err.starts_with("error: JSON argument 2 (messages[1].payload_json) is malformed"));
  CHECK(server.queues.enqueued.messages_size() == 0);  // nothing was sent

  const Result ok = server.Run({"send", "q", "{\"a\":1}", "[2]", "--output=json"});
  CHECK(ok.code == 0);
  CHECK(ok.out == "{\"message_ids\":[100,101]}\n");
  CHECK(server.queues.enqueued.messages(1).payload_json() == "[2]");
}

TEST_CASE("recv prints the leased messages and stretches the deadline by the wait", "[cli][run]") {
  FakeServer server;
  const Result r =
      server.Run({"recv", "q", "--wait-ms=5000", "--timeout-ms=1000", "--output", "json"});
  CHECK(r.code == 0);
  const nlohmann::json m = nlohmann::json::parse(r.out);
  CHECK(m["id"] == 5);
  CHECK(m["payload_json"] == "{\"k\":1}");
  CHECK(m["receipt"] == "rcpt-5");
  CHECK(m["read_count"] == 1);
  CHECK(m["visible_at"] == "2023-11-14T22:13:20Z");
  CHECK(server.queues.deadline_covers_wait);
}

TEST_CASE("a failed receipt is printed and makes the exit status 1", "[cli][run]") {
  FakeServer server;
  const Result r = server.Run({"ack", "q", "good", "stale"});
  CHECK(r.code == 1);
  CHECK(r.out ==
        "RECEIPT  RESULT\n"
        "good     ok\n"
        "stale    lease_lost\n");
  CHECK(r.err == "error: ack: 1 of 2 receipts failed\n");
  CHECK(server.Run({"ack", "q", "good"}).code == 0);
}

TEST_CASE("the token comes from --token-file or PGQRS_TOKEN and is sent as a bearer",
          "[cli][run]") {
  FakeServer server;
  REQUIRE(server.Run({"queue", "create", "a"}).code == 0);
  CHECK(server.queues.last_token.empty());
  REQUIRE(server.Run({"queue", "create", "a"}, {{"PGQRS_TOKEN", "env-secret"}}).code == 0);
  CHECK(server.queues.last_token == "Bearer env-secret");

  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/token";
  std::ofstream(path) << "  file-secret \n";
  const Result r = server.Run({"queue", "create", "a", "--token-file=" + path},
                              {{"PGQRS_TOKEN", "env-secret"}});
  CHECK(r.code == 0);
  CHECK(server.queues.last_token == "Bearer file-secret");
  CHECK(r.out.find("secret") == std::string::npos);

  std::ofstream(path) << "\n";
  const Result empty = server.Run({"queue", "create", "a", "--token-file=" + path});
  CHECK(empty.code == 1);
  CHECK(empty.err.find("is empty") != std::string::npos);
}

TEST_CASE("a token on the command line is refused without echoing it", "[cli][run]") {
  FakeServer server;
  server.queues.last_token = "unchanged";
  const Result r = server.Run({"queue", "create", "a", "--token=flag-secret"});
  CHECK(r.code == 2);
  CHECK(r.err.find("--token-file") != std::string::npos);
  CHECK(r.err.find("flag-secret") == std::string::npos);
  CHECK(server.queues.last_token == "unchanged");  // nothing was sent
}

TEST_CASE("admin token create prints a token once and its tokens-file line", "[cli][run]") {
  FakeServer server;
  const Result r =
      server.Run({"--output=json", "admin", "token", "create", "ci", "--role=producer,reader",
                  "--queues=orders.*,audit"});
  REQUIRE(r.code == 0);
  nlohmann::json created = nlohmann::json::parse(r.out);
  const std::string token = created["token"];
  const std::string line = created["tokens_file_line"];
  CHECK(line.find(token) == std::string::npos);
  // The line is one the daemon accepts, and it matches the printed token.
  absl::StatusOr<pgqrs::server::TokenTable> table = pgqrs::server::TokenTable::Parse(line);
  REQUIRE(table.ok());
  const pgqrs::server::TokenEntry* entry = table->Find(token);
  REQUIRE(entry != nullptr);
  CHECK(entry->name == "ci");
  CHECK(pgqrs::server::RoleNames(entry->roles) == "producer,reader");
  CHECK(entry->AllowsName("orders.x"));
  CHECK(entry->AllowsName("audit"));

  CHECK(server.Run({"admin", "token", "create", "ci", "--role=boss", "--queues=*"}).code == 2);
}

TEST_CASE("admin token create writes a rate limit into the line", "[cli][run]") {
  FakeServer server;
  const Result r = server.Run({"--output=json", "admin", "token", "create", "ci", "--role=reader",
                               "--queues=*", "--rate=2.5", "--burst=7"});
  REQUIRE(r.code == 0);
  const std::string line = nlohmann::json::parse(r.out)["tokens_file_line"];
  absl::StatusOr<pgqrs::server::TokenTable> table = pgqrs::server::TokenTable::Parse(line);
  REQUIRE(table.ok());
  REQUIRE(table->entries()[0].rate_limit.has_value());
  CHECK(table->entries()[0].rate_limit->per_second == 2.5);
  CHECK(table->entries()[0].rate_limit->burst == 7);
  CHECK(server.Run({"admin", "token", "create", "ci", "--role=reader", "--queues=*", "--burst=3"})
            .code == 2);  // a burst needs a rate
  CHECK(server.Run({"admin", "token", "create", "ci", "--role=reader", "--queues=*", "--rate=fast"})
            .code == 2);
}

TEST_CASE("usage errors exit 2 with the command's synopsis, help exits 0", "[cli][run]") {
  FakeServer server;
  const Result r = server.Run({"recv", "q", "--bogus"});
  CHECK(r.code == 2);
  CHECK(r.err ==
        "error: unknown flag --bogus for \"recv\"\n"
        "usage: pgqrs recv QUEUE [--max N] [--vt-ms MS] [--wait-ms MS] [--worker-id ID]\n");
  const Result help = server.Run({"help", "send"});
  CHECK(help.code == 0);
  CHECK(help.out.starts_with("Usage: pgqrs send QUEUE JSON..."));
}

}  // namespace
}  // namespace pgqrs::cli
