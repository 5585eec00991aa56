// Conformance: enqueue, dequeue order, leases, dead letters and deduplication, exactly as
// API.md states the message semantics.
#include <set>

#include "tests/storage/conformance/helpers.h"

namespace pgqrs::testing {
namespace {

using storage::LeaseOutcome;
using storage::Message;
using storage::MessageState;
using storage::NewMessage;

TEST_CASE("enqueue returns ids in order and dequeue leases the payloads",
          "[conformance][message]") {
  auto store = NewTestStore();
  MakeQueue(*store, "q");
  std::vector<NewMessage> batch = {Msg(R"({"a":1})"), Msg(R"({"b":[2,3]})")};
  std::vector<int64_t> ids = Ok(store->Enqueue("q", batch, 0));
  REQUIRE(ids.size() == 2);
  CHECK(ids[0] < ids[1]);

  auto leased = DequeueN(*store, "q", 10);
  REQUIRE(leased.size() == 2);
  CHECK(leased[0].id == ids[0]);
  // Adapters may normalise a payload's whitespace (PostgreSQL's JSONB does); the JSON
  // value is what must survive.
  CHECK(SameJson(leased[0].payload_json, R"({"a":1})"));
  CHECK(SameJson(leased[1].payload_json, R"({"b":[2,3]})"));
  CHECK(leased[0].read_count == 1);
  CHECK(leased[0].state == MessageState::kInFlight);
  REQUIRE(leased[0].lease.has_value());
  CHECK(DequeueN(*store, "q", 10).empty());
  CHECK(store->Enqueue("nope", batch, 0).status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("dequeue takes higher priority first, then enqueue order", "[conformance][message]") {
  auto store = NewTestStore();
  MakeQueue(*store, "q");
  std::vector<NewMessage> batch = {Msg("1", 0), Msg("2", 5), Msg("3", 0), Msg("4", 5),
                                   Msg("5", -1)};
  Ok(store->Enqueue("q", batch, 0));
  std::vector<std::string> order;
  for (const Message& m : DequeueN(*store, "q", 5)) order.push_back(m.payload_json);
  CHECK(order == std::vector<std::string>{"2", "4", "1", "3", "5"});
}

TEST_CASE("a delayed message stays invisible until its delay passes", "[conformance][message]") {
  auto store = NewTestStore();
  MakeQueue(*store, "q");
  std::vector<NewMessage> batch = {Msg(R"("late")", 0, absl::Milliseconds(300)), Msg(R"("now")")};
  std::vector<int64_t> ids = Ok(store->Enqueue("q", batch, 0));
  CHECK(GetOne(*store, "q", ids[0]).state == MessageState::kDelayed);
  auto first = DequeueN(*store, "q", 10);
  REQUIRE(first.size() == 1);
  CHECK(first[0].payload_json == R"("now")");
  CHECK(Ok(store->GetQueueCounts("q")).delayed == 1);
  std::vector<Message> late;
  CHECK(WaitUntil([&] {
    late = DequeueN(*store, "q", 10);
    return !late.empty();
  }));
  CHECK(late[0].payload_json == R"("late")");
}

TEST_CASE("an expired lease returns the message and its old receipt fails",
          "[conformance][lease]") {
  auto store = NewTestStore();
  MakeQueue(*store, "q");
  int64_t id = EnqueueOne(*store, "q", R"("x")");
  auto first = DequeueN(*store, "q", 1, absl::Milliseconds(200));
  REQUIRE(first.size() == 1);
  storage::Lease stale = *first[0].lease;

  std::vector<Message> again;
  REQUIRE(WaitUntil([&] {
    again = DequeueN(*store, "q", 1);
    return !again.empty();
  }));
  CHECK(again[0].id == id);
  CHECK(again[0].read_count == 2);
  CHECK(again[0].lease->token != stale.token);

  CHECK(AckOne(*store, "q", stale) == LeaseOutcome::kLeaseLost);
  CHECK(GetOne(*store, "q", id).state == MessageState::kInFlight);
  CHECK(AckOne(*store, "q", *again[0].lease) == LeaseOutcome::kOk);
  CHECK(GetOne(*store, "q", id).state == MessageState::kArchived);
}

TEST_CASE("a receipt fails once its lease expired, even with nothing re-leased",
          "[conformance][lease]") {
  auto store = NewTestStore();
  MakeQueue(*store, "q");
  int64_t id = EnqueueOne(*store, "q", R"("x")");
  auto leased = DequeueN(*store, "q", 1, absl::Milliseconds(100));
  REQUIRE(WaitUntil([&] { return GetOne(*store, "q", id).state == MessageState::kPending; }));
  CHECK(AckOne(*store, "q", *leased[0].lease) == LeaseOutcome::kLeaseLost);
  CHECK(GetOne(*store, "q", id).state == MessageState::kPending);
}

TEST_CASE("ack archives once; acked messages never come back", "[conformance][lease]") {
  auto store = NewTestStore();
  MakeQueue(*store, "q");
  int64_t id = EnqueueOne(*store, "q", R"("x")");
  auto leased = DequeueN(*store, "q", 1, absl::Milliseconds(100));
  CHECK(AckOne(*store, "q", *leased[0].lease) == LeaseOutcome::kOk);
  CHECK(AckOne(*store, "q", *leased[0].lease) == LeaseOutcome::kLeaseLost);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(DequeueN(*store, "q", 10).empty());
  storage::QueueCounts counts = Ok(store->GetQueueCounts("q"));
  CHECK(counts.archived == 1);
  CHECK(counts.pending == 0);

  storage::Lease unknown{id + 1000, 1};
  CHECK(AckOne(*store, "q", unknown) == LeaseOutcome::kNotFound);
  MakeQueue(*store, "other");
  CHECK(AckOne(*store, "other", *leased[0].lease) == LeaseOutcome::kNotFound);
}

TEST_CASE("ack reports every receipt of a batch; a missing queue is NOT_FOUND",
          "[conformance][lease]") {
  auto store = NewTestStore();
  MakeQueue(*store, "q");
  EnqueueOne(*store, "q", R"("a")");
  EnqueueOne(*store, "q", R"("b")");
  auto leased = DequeueN(*store, "q", 2);
  REQUIRE(leased.size() == 2);
  storage::Lease a = *leased[0].lease;
  storage::Lease wrong_token{a.message_id, a.token + 1};
  storage::Lease unknown{leased[1].id + 1000, 1};
  std::vector<storage::Lease> leases = {wrong_token, a, a, unknown, *leased[1].lease};
  CHECK(Ok(store->Ack("q", leases)) ==
        std::vector<LeaseOutcome>{LeaseOutcome::kLeaseLost, LeaseOutcome::kOk,
                                  LeaseOutcome::kLeaseLost, LeaseOutcome::kNotFound,
                                  LeaseOutcome::kOk});
  CHECK(Ok(store->GetQueueCounts("q")).archived == 2);

  std::vector<storage::Lease> one = {a};
  CHECK(store->Ack("nope", one).status().code() == absl::StatusCode::kNotFound);
  CHECK(store->Dequeue("nope", storage::DequeueOptions{}).status().code() ==
        absl::StatusCode::kNotFound);
}

TEST_CASE("delete removes the message; lease calls report per receipt", "[conformance][lease]") {
  auto store = NewTestStore();
  MakeQueue(*store, "q");
  EnqueueOne(*store, "q", R"("a")");
  EnqueueOne(*store, "q", R"("b")");
  auto leased = DequeueN(*store, "q", 2);
  std::vector<storage::Lease> leases = {*leased[0].lease, storage::Lease{leased[1].id, 42}};
  auto outcomes = Ok(store->Delete("q", leases));
  CHECK(outcomes == std::vector<LeaseOutcome>{LeaseOutcome::kOk, LeaseOutcome::kLeaseLost});
  std::vector<int64_t> ids = {leased[0].id, leased[1].id};
  auto left = Ok(store->GetMessages("q", ids));
  REQUIRE(left.size() == 1);
  CHECK(left[0].id == leased[1].id);
}

TEST_CASE("nack releases now or after a delay", "[conformance][lease]") {
  auto store = NewTestStore();
  MakeQueue(*store, "q");
  int64_t id = EnqueueOne(*store, "q", R"("x")");
  auto leased = DequeueN(*store, "q", 1);
  std::vector<storage::Lease> leases = {*leased[0].lease};
  CHECK(Ok(store->Nack("q", leases, absl::ZeroDuration()))[0] == LeaseOutcome::kOk);
  auto again = DequeueN(*store, "q", 1);
  REQUIRE(again.size() == 1);
  CHECK(again[0].read_count == 2);

  leases = {*again[0].lease};
  CHECK(Ok(store->Nack("q", leases, absl::Milliseconds(300)))[0] == LeaseOutcome::kOk);
  CHECK(GetOne(*store, "q", id).state == MessageState::kDelayed);
  CHECK(DequeueN(*store, "q", 1).empty());
  CHECK(WaitUntil([&] { return !DequeueN(*store, "q", 1).empty(); }));
}

TEST_CASE("extend visibility pushes the lease out from now", "[conformance][lease]") {
  auto store = NewTestStore();
  MakeQueue(*store, "q");
  int64_t id = EnqueueOne(*store, "q", R"("x")");
  auto leased = DequeueN(*store, "q", 1, absl::Milliseconds(300));
  std::vector<storage::Lease> leases = {*leased[0].lease};
  CHECK(Ok(store->ExtendVisibility("q", leases, absl::Seconds(30)))[0] == LeaseOutcome::kOk);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(DequeueN(*store, "q", 1).empty());
  CHECK(GetOne(*store, "q", id).state == MessageState::kInFlight);
  CHECK(AckOne(*store, "q", leases[0]) == LeaseOutcome::kOk);
}

TEST_CASE("a message is dead-lettered at max_read_count and can be redriven",
          "[conformance][dlq]") {
  auto store = NewTestStore();
  MakeQueue(*store, "q", /*max_read_count=*/2);
  int64_t id = EnqueueOne(*store, "q", R"("poison")");
  for (int read = 1; read <= 2; ++read) {
    auto leased = DequeueN(*store, "q", 1);
    REQUIRE(leased.size() == 1);
    CHECK(leased[0].read_count == read);
    std::vector<storage::Lease> leases = {*leased[0].lease};
    Ok(store->Nack("q", leases, absl::ZeroDuration()));
  }
  CHECK(DequeueN(*store, "q", 1).empty());
  CHECK(GetOne(*store, "q", id).state == MessageState::kDead);
  auto dead = Ok(store->ListDeadLetters("q", 0, 10));
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].id == id);
  CHECK(Ok(store->GetQueueCounts("q")).dead == 1);

  std::vector<int64_t> none;
  CHECK(Ok(store->Redrive("q", none)) == 1);
  auto back = DequeueN(*store, "q", 1);
  REQUIRE(back.size() == 1);
  CHECK(back[0].read_count == 1);
}

TEST_CASE("a lease expiring at max_read_count dead-letters without any reaper",
          "[conformance][dlq]") {
  auto store = NewTestStore();
  MakeQueue(*store, "q", /*max_read_count=*/1);
  int64_t id = EnqueueOne(*store, "q", R"("x")");
  int64_t other = EnqueueOne(*store, "q", R"("y")");
  auto leased = DequeueN(*store, "q", 1, absl::Milliseconds(100));
  REQUIRE(leased[0].id == id);
  REQUIRE(WaitUntil([&] { return GetOne(*store, "q", id).state == MessageState::kDead; }));
  auto next = DequeueN(*store, "q", 5);
  REQUIRE(next.size() == 1);
  CHECK(next[0].id == other);
  auto dead = Ok(store->ListDeadLetters("q", 0, 10));
  REQUIRE(dead.size() == 1);
  std::vector<int64_t> ids = {id, other};
  CHECK(Ok(store->Redrive("q", ids)) == 1);
  CHECK(GetOne(*store, "q", id).state == MessageState::kPending);
}

TEST_CASE("dead letters page by id", "[conformance][dlq]") {
  auto store = NewTestStore();
  MakeQueue(*store, "q", 1);
  for (int i = 0; i < 3; ++i) EnqueueOne(*store, "q", R"("x")");
  for (const Message& m : DequeueN(*store, "q", 3)) {
    std::vector<storage::Lease> leases = {*m.lease};
    Ok(store->Nack("q", leases, absl::ZeroDuration()));
  }
  auto page1 = Ok(store->ListDeadLetters("q", 0, 2));
  REQUIRE(page1.size() == 2);
  auto page2 = Ok(store->ListDeadLetters("q", page1.back().id, 2));
  REQUIRE(page2.size() == 1);
  CHECK(page2[0].id > page1[1].id);
}

TEST_CASE("a dedup key returns the live message's id", "[conformance][dedup]") {
  auto store = NewTestStore();
  MakeQueue(*store, "q");
  std::vector<NewMessage> batch = {Msg(R"("a")", 0, absl::ZeroDuration(), "k1"),
                                   Msg(R"("b")", 0, absl::ZeroDuration(), "k1"),
                                   Msg(R"("c")", 0, absl::ZeroDuration(), "k2")};
  auto ids = Ok(store->Enqueue("q", batch, 0));
  CHECK(ids[0] == ids[1]);
  CHECK(ids[0] != ids[2]);
  std::vector<NewMessage> again = {Msg(R"("d")", 0, absl::ZeroDuration(), "k1")};
  CHECK(Ok(store->Enqueue("q", again, 0))[0] == ids[0]);
  CHECK(Ok(store->GetQueueCounts("q")).pending == 2);

  // Once acked, the key is free again.
  for (const Message& m : DequeueN(*store, "q", 5)) AckOne(*store, "q", *m.lease);
  auto fresh = Ok(store->Enqueue("q", again, 0));
  CHECK(fresh[0] != ids[0]);
  CHECK(GetOne(*store, "q", fresh[0]).payload_json == R"("d")");
}

TEST_CASE("counts track every state", "[conformance][message]") {
  auto store = NewTestStore();
  MakeQueue(*store, "q");
  std::vector<NewMessage> batch = {Msg("1"), Msg("2"), Msg("3"), Msg("4", 0, absl::Seconds(60))};
  Ok(store->Enqueue("q", batch, 0));
  auto leased = DequeueN(*store, "q", 2);
  AckOne(*store, "q", *leased[0].lease);
  storage::QueueCounts counts = Ok(store->GetQueueCounts("q"));
  CHECK(counts.pending == 1);
  CHECK(counts.delayed == 1);
  CHECK(counts.in_flight == 1);
  CHECK(counts.archived == 1);
  CHECK(counts.dead == 0);
}

TEST_CASE("counts tell expired leases and other queues' leases apart", "[conformance][message]") {
  auto store = NewTestStore();
  MakeQueue(*store, "q", /*max_read_count=*/2);
  MakeQueue(*store, "other");
  int64_t held = EnqueueOne(*store, "q", "1");
  REQUIRE(DequeueN(*store, "q", 1, absl::Seconds(60)).at(0).id == held);
  int64_t expiring = EnqueueOne(*store, "q", "2");
  REQUIRE(DequeueN(*store, "q", 1, absl::Milliseconds(1)).at(0).id == expiring);
  std::vector<NewMessage> delayed = {Msg("3", 0, absl::Seconds(60))};
  Ok(store->Enqueue("q", delayed, 0));
  EnqueueOne(*store, "other", "4");
  REQUIRE(DequeueN(*store, "other", 1, absl::Seconds(60)).size() == 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const absl::Time before_newest = absl::Now();
  EnqueueOne(*store, "q", "5");

  // The expired lease is pending again (one read of two used), and the oldest pending
  // message: its age covers the sleep, which the newest message's does not.
  storage::QueueCounts counts = Ok(store->GetQueueCounts("q"));
  CHECK(counts.pending == 2);
  CHECK(counts.in_flight == 1);
  CHECK(counts.delayed == 1);
  CHECK(counts.dead == 0);
  CHECK(counts.oldest_pending_age >= absl::Milliseconds(50));

  // Its second lease expires with its reads used up: dead, though still in the live state.
  REQUIRE(DequeueN(*store, "q", 1, absl::Milliseconds(1)).at(0).id == expiring);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  counts = Ok(store->GetQueueCounts("q"));
  CHECK(counts.pending == 1);
  CHECK(counts.in_flight == 1);
  CHECK(counts.delayed == 1);
  CHECK(counts.dead == 1);
  CHECK(counts.oldest_pending_age <= absl::Now() - before_newest);  // the newest is left
  storage::QueueCounts other = Ok(store->GetQueueCounts("other"));
  CHECK(other.in_flight == 1);
  CHECK(other.pending == 0);
}

TEST_CASE("queue counts listed in pages agree with each queue's counts", "[conformance][message]") {
  auto store = NewTestStore();
  MakeQueue(*store, "a");
  MakeQueue(*store, "b", /*max_read_count=*/1);
  MakeQueue(*store, "c");
  std::vector<NewMessage> batch = {Msg("1"), Msg("2"), Msg("3", 0, absl::Seconds(60))};
  Ok(store->Enqueue("a", batch, 0));
  AckOne(*store, "a", *DequeueN(*store, "a", 1).at(0).lease);
  Ok(store->Enqueue("b", batch, 0));
  REQUIRE(DequeueN(*store, "b", 1, absl::Seconds(60)).size() == 1);
  REQUIRE(DequeueN(*store, "b", 1, absl::Milliseconds(1)).size() == 1);  // expires dead
  Ok(store->Enqueue("c", batch, 0));
  REQUIRE(DequeueN(*store, "c", 1, absl::Seconds(60)).size() == 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));

  std::vector<storage::NamedQueueCounts> listed = Ok(store->ListQueueCounts("", 10));
  REQUIRE(listed.size() == 3);
  for (size_t i = 0; i < listed.size(); ++i) {
    const storage::NamedQueueCounts& got = listed[i];
    CHECK(got.name == std::string(1, static_cast<char>('a' + i)));
    INFO("queue " << got.name);
    storage::QueueCounts want = Ok(store->GetQueueCounts(got.name));
    CHECK(got.counts.pending == want.pending);
    CHECK(got.counts.delayed == want.delayed);
    CHECK(got.counts.in_flight == want.in_flight);
    CHECK(got.counts.dead == want.dead);
    CHECK(got.counts.archived == want.archived);
    CHECK(got.counts.oldest_pending_age <= want.oldest_pending_age);
  }
  CHECK(listed[0].counts.archived == 1);
  CHECK(listed[0].counts.delayed == 1);
  CHECK(listed[1].counts.in_flight == 1);
  CHECK(listed[1].counts.dead == 1);
  CHECK(listed[2].counts.in_flight == 1);
  CHECK(listed[2].counts.pending == 1);

  std::vector<storage::NamedQueueCounts> page = Ok(store->ListQueueCounts("a", 1));
  REQUIRE(page.size() == 1);
  CHECK(page[0].name == "b");
  CHECK(Ok(store->ListQueueCounts("c", 10)).empty());
  RequireOk(store->DeleteQueue("b", /*force=*/true));
  listed = Ok(store->ListQueueCounts("", 10));
  REQUIRE(listed.size() == 2);
  CHECK(listed[1].name == "c");
  CHECK(listed[1].counts.in_flight == 1);
}

TEST_CASE("concurrent consumers never share a message", "[conformance][concurrency]") {
  auto store = NewTestStore();
  MakeQueue(*store, "q");
  constexpr int kMessages = 400;
  for (int i = 0; i < kMessages; i += 100) {
    std::vector<NewMessage> batch;
    for (int j = 0; j < 100; ++j) batch.push_back(Msg(std::to_string(i + j)));
    Ok(store->Enqueue("q", batch, 0));
  }
  std::mutex mu;
  std::multiset<int64_t> acked;
  std::vector<std::thread> consumers;
  for (int t = 0; t < 4; ++t) {
    consumers.emplace_back([&] {
      while (true) {
        storage::DequeueOptions options;
        options.max_messages = 7;
        auto leased = store->Dequeue("q", options);
        if (!leased.ok() || leased->empty()) return;
        std::vector<storage::Lease> leases;
        for (const Message& m : *leased) leases.push_back(*m.lease);
        auto outcomes = store->Ack("q", leases);
        std::lock_guard<std::mutex> lock(mu);
        for (size_t i = 0; outcomes.ok() && i < leases.size(); ++i) {
          if ((*outcomes)[i] == LeaseOutcome::kOk) acked.insert(leases[i].message_id);
        }
      }
    });
  }
  for (std::thread& t : consumers) t.join();
  CHECK(acked.size() == kMessages);
  CHECK(std::set<int64_t>(acked.begin(), acked.end()).size() == kMessages);
}

TEST_CASE("a returned lease leaves the message visible with its read count restored",
          "[conformance][message]") {
  auto store = NewTestStore();
  MakeQueue(*store, "q", /*max_read_count=*/1);
  int64_t id = EnqueueOne(*store, "q", R"("x")");
  Message first = DequeueN(*store, "q", 1).at(0);
  std::vector<storage::Lease> leases = {*first.lease, {id + 1000, 7}};
  CHECK(Ok(store->ReturnLeases("q", leases)) ==
        std::vector<LeaseOutcome>{LeaseOutcome::kOk, LeaseOutcome::kNotFound});
  Message returned = GetOne(*store, "q", id);
  CHECK(returned.state == MessageState::kPending);
  CHECK(returned.read_count == 0);
  CHECK(AckOne(*store, "q", *first.lease) == LeaseOutcome::kLeaseLost);
  // At max_read_count 1 a kept read count would have dead-lettered it here.
  Message again = DequeueN(*store, "q", 1).at(0);
  CHECK(again.id == id);
  CHECK(again.read_count == 1);
  std::vector<storage::Lease> stale = {*first.lease};
  CHECK(Ok(store->ReturnLeases("q", stale)) == std::vector<LeaseOutcome>{LeaseOutcome::kLeaseLost});
  CHECK(GetOne(*store, "q", id).state == MessageState::kInFlight);
}

TEST_CASE("lease tokens span 63 bits on every store", "[conformance][message]") {
  auto store = NewTestStore();
  MakeQueue(*store, "q");
  std::vector<storage::NewMessage> batch(200, Msg("1"));
  Ok(store->Enqueue("q", batch, 0));
  int64_t largest = 0;
  for (const Message& m : DequeueN(*store, "q", 200)) largest = std::max(largest, m.lease->token);
  // 200 uniform draws all below 2^53 would have probability 2^-2000.
  CHECK(largest > (int64_t{1} << 53));
}

}  // namespace
}  // namespace pgqrs::testing
