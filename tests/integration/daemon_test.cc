// The real pgqrsd binary, driven through a real gRPC client: the round trip, health,
// graceful shutdown and every kind of bad input.
#include <signal.h>

#include "tests/integration/client.h"
#include "tests/integration/proto/health.grpc.pb.h"

namespace pgqrs::testing {
namespace {

std::vector<std::string> DebugFlags(const std::string& name) {
  return {DsnFlag(name), "--log_level=debug"};
}

TEST_CASE("a message goes round trip through the daemon", "[integration]") {
  Daemon daemon(DebugFlags("roundtrip.db"));
  Client client(daemon);
  client.CreateQueue("jobs");
  auto ids = client.Enqueue("jobs", {R"({"task":"a"})", R"({"task":"b"})"});
  REQUIRE(ids.size() == 2);

  v1::DequeueResponse leased = client.Dequeue("jobs", 10);
  REQUIRE(leased.messages_size() == 2);
  CHECK(leased.messages(0).payload_json() == R"({"task":"a"})");
  CHECK(leased.messages(0).read_count() == 1);
  CHECK(leased.messages(0).state() == v1::MESSAGE_STATE_IN_FLIGHT);

  v1::AckRequest ack;
  ack.set_queue("jobs");
  ack.add_receipts(leased.messages(0).receipt());
  ack.add_receipts(leased.messages(1).receipt());
  v1::ReceiptResponse results;
  REQUIRE(client.Call(*client.queues, &v1::QueueService::Stub::Ack, ack, &results).ok());
  REQUIRE(results.results_size() == 2);
  CHECK(results.results(0) == v1::RECEIPT_RESULT_OK);
  CHECK(client.Stats("jobs").archived() == 2);
}

TEST_CASE("the daemon serves health and server info without secrets", "[integration]") {
  Daemon daemon(DebugFlags("health.db"));
  auto channel = daemon.Channel();
  grpc::ClientContext context;
  // The standard health service answers SERVING for the whole server.
  auto health = grpc::health::v1::Health::NewStub(channel);
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  REQUIRE(health->Check(&context, req, &resp).ok());
  CHECK(resp.status() == grpc::health::v1::HealthCheckResponse::SERVING);

  Client client(daemon);
  v1::ServerInfo info;
  REQUIRE(client
              .Call(*client.admin, &v1::AdminService::Stub::GetServerInfo,
                    v1::GetServerInfoRequest(), &info)
              .ok());
  CHECK(info.backend() == TestStore());
  CHECK(info.schema_version() >= 1);
  // The store's options show in the DSN, its key never does.
  CHECK((info.storage_dsn().find("mvcc=on") != std::string::npos) == TestStoreMvcc());
}

TEST_CASE("SIGTERM stops the daemon gracefully", "[integration]") {
  Daemon daemon(DebugFlags("sigterm.db"));
  Client client(daemon);
  client.CreateQueue("q");
  CHECK(daemon.Stop(SIGTERM) == 0);
  CHECK(daemon.Log().find("stopped") != std::string::npos);
}

TEST_CASE("a bad flag value is a start-up error naming the flag", "[integration]") {
  std::string err;
  CHECK(RunCommand(Runfile("server/pgqrsd") + " --worker_timeout_ms=-5", &err).first == 2);
  CHECK(err.find("--worker_timeout_ms") != std::string::npos);
  CHECK(RunCommand(Runfile("server/pgqrsd") + " --pool_size=abc", &err).first != 0);
  CHECK(err.find("pool_size") != std::string::npos);
  CHECK(RunCommand(Runfile("server/pgqrsd") + " --log_format=xml", &err).first == 2);
  CHECK(err.find("--log_format") != std::string::npos);
  CHECK(RunCommand(Runfile("server/pgqrsd") + " --dsn=postgres://u:hunter2@h/db?x", &err).first !=
        0);
  CHECK(err.find("hunter2") == std::string::npos);
}

TEST_CASE("a listen address in use is a start-up error", "[integration]") {
  Daemon first(DebugFlags("first.db"));
  std::string err;
  // Without the refusal the second daemon would serve on the same port (SO_REUSEPORT) until
  // `timeout` stopped it (status 124).
  const int status = RunCommand("timeout 10 " + Runfile("server/pgqrsd") +
                                    " --dsn=sqlite::memory: --listen=" + first.address(),
                                &err)
                         .first;
  CHECK(status == 1);
  CHECK(err.find("cannot listen on " + first.address()) != std::string::npos);
  Client client(first);
  client.CreateQueue("q");  // the first daemon still serves
}

TEST_CASE("a non-loopback listen address needs --insecure_listen", "[integration]") {
  std::string err;
  std::string pgqrsd = Runfile("server/pgqrsd") + " --dsn=sqlite::memory:";
  CHECK(RunCommand(pgqrsd + " --listen=0.0.0.0:0", &err).first == 2);
  CHECK(err.find("--insecure_listen") != std::string::npos);
  CHECK(RunCommand(pgqrsd + " --listen=[::]:0", &err).first == 2);
  // With the flag it serves, and says so; a loopback address needs nothing.
  RunCommand("timeout 2 " + pgqrsd + " --listen=0.0.0.0:0 --insecure_listen", &err);
  CHECK(err.find("--insecure_listen: serving on 0.0.0.0:0 without TLS") != std::string::npos);
  RunCommand("timeout 2 " + pgqrsd + " --listen=[::1]:0", &err);
  CHECK(err.find("listening on [::1]:") != std::string::npos);
}

TEST_CASE("the example flag file in deploy/ is accepted", "[integration]") {
  // The example serves TLS with tokens on 0.0.0.0:7468 from system paths; the test keeps
  // every flag and points the paths at files of its own.
  std::string dir = TempPath("deploy");
  REQUIRE(RunCommand("mkdir -p " + dir + " && " + Runfile("tests/integration/make_certs.sh") + " " +
                     dir + " server")
              .first == 0);
  std::string tokens = dir + "/tokens";
  REQUIRE(RunCommand("touch " + tokens).first == 0);
  Daemon daemon({"--flagfile=" + Runfile("deploy/pgqrsd.flags"), DsnFlag("flagfile.db"),
                 "--listen=127.0.0.1:0", "--tls_cert=" + dir + "/server-cert.pem",
                 "--tls_key=" + dir + "/server-key.pem", "--auth_tokens_file=" + tokens});
  CHECK(daemon.Log().find(R"("level":"info")") != std::string::npos);  // JSON logs
  CHECK(daemon.Log().find("authentication is off") == std::string::npos);
}

// Each bad request must fail with `code` and leave the queue empty.
void ExpectRejected(Client& client, const v1::EnqueueRequest& req, grpc::StatusCode code) {
  v1::EnqueueResponse resp;
  grpc::Status status = client.Call(*client.queues, &v1::QueueService::Stub::Enqueue, req, &resp);
  INFO(status.error_message());
  CHECK(status.error_code() == code);
  CHECK_FALSE(status.error_message().empty());
  v1::QueueStats stats = client.Stats("q");
  CHECK(stats.pending() + stats.delayed() == 0);
}

TEST_CASE("bad enqueue input gets the right code and stores nothing", "[integration]") {
  Daemon daemon({DsnFlag("bad.db"), "--max_batch=10", "--max_payload_bytes=100"});
  Client client(daemon);
  client.CreateQueue("q");
  v1::EnqueueRequest req;
  req.set_queue("q");
  req.add_messages()->set_payload_json(R"({"ok":1})");

  SECTION("malformed JSON anywhere in the batch") {
    req.add_messages()->set_payload_json(R"({"broken":)");
    v1::EnqueueResponse resp;
    grpc::Status status = client.Call(*client.queues, &v1::QueueService::Stub::Enqueue, req, &resp);
    CHECK(status.error_message().find("messages[1].payload_json") != std::string::npos);
    ExpectRejected(client, req, grpc::StatusCode::INVALID_ARGUMENT);
  }
  SECTION("an oversized payload") {
    req.add_messages()->set_payload_json("\"" + std::string(200, 'x') + "\"");
    ExpectRejected(client, req, grpc::StatusCode::RESOURCE_EXHAUSTED);
  }
  SECTION("an oversized batch") {
    for (int i = 0; i < 10; ++i) req.add_messages()->set_payload_json("1");
    ExpectRejected(client, req, grpc::StatusCode::RESOURCE_EXHAUSTED);
  }
  SECTION("an empty batch") {
    req.clear_messages();
    ExpectRejected(client, req, grpc::StatusCode::INVALID_ARGUMENT);
  }
  SECTION("a negative or huge delay") {
    req.add_messages()->set_delay_ms(-1);
    req.mutable_messages(1)->set_payload_json("1");
    ExpectRejected(client, req, grpc::StatusCode::INVALID_ARGUMENT);
    req.mutable_messages(1)->set_delay_ms(int64_t{1} << 50);
    ExpectRejected(client, req, grpc::StatusCode::INVALID_ARGUMENT);
  }
  SECTION("an invalid queue name") {
    req.set_queue("bad name!");
    v1::EnqueueResponse resp;
    CHECK(client.Call(*client.queues, &v1::QueueService::Stub::Enqueue, req, &resp).error_code() ==
          grpc::StatusCode::INVALID_ARGUMENT);
    req.set_queue(std::string(129, 'a'));
    CHECK(client.Call(*client.queues, &v1::QueueService::Stub::Enqueue, req, &resp).error_code() ==
          grpc::StatusCode::INVALID_ARGUMENT);
  }
  SECTION("an unknown queue") {
    req.set_queue("missing");
    v1::EnqueueResponse resp;
    grpc::Status status = client.Call(*client.queues, &v1::QueueService::Stub::Enqueue, req, &resp);
    CHECK(status.error_code() == grpc::StatusCode::NOT_FOUND);
    CHECK(status.error_message().find("missing") != std::string::npos);
  }
}

TEST_CASE("bad dequeue and receipt input gets the right code", "[integration]") {
  Daemon daemon({DsnFlag("bad2.db")});
  Client client(daemon);
  client.CreateQueue("q");
  client.Enqueue("q", {"1"});

  auto dequeue_code = [&](int32_t max, int64_t vt, int64_t wait) {
    v1::DequeueRequest req;
    req.set_queue("q");
    req.set_max_messages(max);
    req.set_visibility_timeout_ms(vt);
    req.set_wait_ms(wait);
    v1::DequeueResponse resp;
    return client.Call(*client.queues, &v1::QueueService::Stub::Dequeue, req, &resp).error_code();
  };
  CHECK(dequeue_code(-1, 0, 0) == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(dequeue_code(5000, 0, 0) == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(dequeue_code(1, -5, 0) == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(dequeue_code(1, int64_t{1} << 40, 0) == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(dequeue_code(1, 0, -1) == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(dequeue_code(1, 0, 3600000) == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(client.Stats("q").pending() == 1);  // nothing was leased by the refused calls

  for (const std::string& receipt : {std::string("garbage"), std::string("1-"), std::string("-1"),
                                     std::string("zz-10"), std::string("")}) {
    v1::AckRequest ack;
    ack.set_queue("q");
    ack.add_receipts(receipt);
    v1::ReceiptResponse resp;
    grpc::Status status = client.Call(*client.queues, &v1::QueueService::Stub::Ack, ack, &resp);
    INFO(receipt);
    CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(status.error_message().find("receipts[0]") != std::string::npos);
  }
  v1::AckRequest empty;
  empty.set_queue("q");
  v1::ReceiptResponse resp;
  CHECK(client.Call(*client.queues, &v1::QueueService::Stub::Ack, empty, &resp).error_code() ==
        grpc::StatusCode::INVALID_ARGUMENT);

  v1::CreateQueueRequest create;
  create.set_name("q2");
  create.set_visibility_timeout_ms(-1);
  v1::Queue queue;
  CHECK(client.Call(*client.queues, &v1::QueueService::Stub::CreateQueue, create, &queue)
            .error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  v1::GetQueueRequest get;
  get.set_name("q2");
  CHECK(client.Call(*client.queues, &v1::QueueService::Stub::GetQueue, get, &queue).error_code() ==
        grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace pgqrs::testing
