// Durability: kill -9 the daemon during a stream of enqueues and acks, again and again.
// Every enqueue that returned OK is there after restart, no acked message is delivered
// again, and stock sqlite3 finds the file intact after every crash (after decrypting it, for
// an encrypted engine file).
#include <signal.h>

#include <atomic>
#include <set>
#include <thread>

#include "tests/integration/client.h"

namespace pgqrs::testing {
namespace {

// sqlite3's verdict on the file: "ok" when intact. sqlite3 recovers the WAL first, as it
// would for any process opening the file after a crash. An encrypted file is first
// authenticated page by page (pgqrs-engine verify, which recovers the WAL the same way) and
// then judged by sqlite3 as a decrypted copy.
std::string IntegrityCheck(const std::string& db) {
  std::string plain = db;
  if (TestStoreEncrypted()) {
    const std::string tool = Runfile("tools/pgqrs-engine/pgqrs-engine");
    auto [verified, verify_out] = RunCommand(tool + " verify '" + db + "' " + TestKeyOptions());
    INFO(verify_out);
    REQUIRE(verified == 0);
    plain = TempPath("decrypted.db");
    auto [decrypted, decrypt_out] =
        RunCommand(tool + " decrypt '" + db + "' '" + plain + "' " + TestKeyOptions());
    INFO(decrypt_out);
    REQUIRE(decrypted == 0);
    // The encrypted file itself is unreadable to sqlite3.
    CHECK(RunCommand("sqlite3 '" + db + "' 'PRAGMA integrity_check' 2>&1").second != "ok\n");
  }
  auto [status, out] = RunCommand("sqlite3 '" + plain + "' 'PRAGMA integrity_check'");
  REQUIRE(status == 0);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

TEST_CASE("kill -9 loses no OK'd enqueue and redelivers no acked message",
          "[integration][durability]") {
  std::string db = TempPath("durable.db");
  std::string dsn = "--dsn=" + DsnForPath(db);
  std::set<int64_t> enqueued;
  std::set<int64_t> acked;
  constexpr int kCrashes = 10;
  for (int round = 0; round < kCrashes; ++round) {
    Daemon daemon({dsn});
    Client client(daemon);
    if (round == 0) client.CreateQueue("q");
    std::atomic<bool> stop{false};
    std::mutex mu;
    std::vector<std::thread> producers;
    for (int p = 0; p < 3; ++p) {
      producers.emplace_back([&] {
        Client c(daemon);
        while (!stop) {
          v1::EnqueueRequest req;
          req.set_queue("q");
          req.add_messages()->set_payload_json(R"({"p":1})");
          req.add_messages()->set_payload_json(R"({"p":2})");
          v1::EnqueueResponse resp;
          grpc::ClientContext ctx;
          ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
          if (!c.queues->Enqueue(&ctx, req, &resp).ok()) return;
          std::lock_guard<std::mutex> lock(mu);
          enqueued.insert(resp.message_ids().begin(), resp.message_ids().end());
        }
      });
    }
    std::thread consumer([&] {
      Client c(daemon);
      while (!stop) {
        v1::DequeueRequest req;
        req.set_queue("q");
        req.set_max_messages(5);
        v1::DequeueResponse leased;
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
        if (!c.queues->Dequeue(&ctx, req, &leased).ok()) return;
        v1::AckRequest ack;
        ack.set_queue("q");
        for (const v1::Message& m : leased.messages()) ack.add_receipts(m.receipt());
        if (ack.receipts_size() == 0) continue;
        v1::ReceiptResponse results;
        grpc::ClientContext actx;
        actx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
        if (!c.queues->Ack(&actx, ack, &results).ok()) return;
        std::lock_guard<std::mutex> lock(mu);
        for (int i = 0; i < results.results_size(); ++i) {
          if (results.results(i) == v1::RECEIPT_RESULT_OK) acked.insert(leased.messages(i).id());
        }
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    daemon.Stop(SIGKILL);
    stop = true;
    for (std::thread& t : producers) t.join();
    consumer.join();
    INFO("after crash " << round + 1);
    REQUIRE(IntegrityCheck(db) == "ok");
  }
  INFO("enqueued " << enqueued.size() << ", acked " << acked.size());
  REQUIRE(enqueued.size() > 100);
  REQUIRE(!acked.empty());

  Daemon daemon({dsn});
  Client client(daemon);
  std::vector<int64_t> ids(enqueued.begin(), enqueued.end());
  size_t found = 0;
  for (size_t i = 0; i < ids.size(); i += 500) {
    v1::GetMessagesRequest req;
    req.set_queue("q");
    for (size_t j = i; j < std::min(ids.size(), i + 500); ++j) req.add_ids(ids[j]);
    v1::GetMessagesResponse resp;
    REQUIRE(client.Call(*client.queues, &v1::QueueService::Stub::GetMessages, req, &resp).ok());
    found += resp.messages_size();
    for (const v1::Message& m : resp.messages()) {
      if (acked.count(m.id())) CHECK(m.state() == v1::MESSAGE_STATE_ARCHIVED);
    }
  }
  CHECK(found == ids.size());
  // Drain everything visible: nothing acked may come back.
  int redelivered_acked = 0;
  while (true) {
    v1::DequeueResponse leased = client.Dequeue("q", 1000);
    if (leased.messages_size() == 0) break;
    for (const v1::Message& m : leased.messages()) redelivered_acked += acked.count(m.id());
  }
  CHECK(redelivered_acked == 0);
}

}  // namespace
}  // namespace pgqrs::testing
