// Conformance: the reapers' maintenance calls work in bounded batches.
#include "tests/storage/conformance/helpers.h"

namespace pgqrs::testing {
namespace {

// Enqueues `n` messages in batches the stores accept.
void EnqueueMany(storage::Store& store, const std::string& queue, int n) {
  for (int sent = 0; sent < n; sent += 1000) {
    std::vector<storage::NewMessage> batch(std::min(1000, n - sent), Msg(R"("m")"));
    Ok(store.Enqueue(queue, batch, 0));
  }
}

// Leases up to `n` visible messages of the queue for `vt`; returns the leases.
std::vector<storage::Lease> LeaseUpTo(storage::Store& store, const std::string& queue, int n,
                                      absl::Duration vt) {
  std::vector<storage::Lease> leases;
  while (static_cast<int>(leases.size()) < n) {
    std::vector<storage::Message> got =
        DequeueN(store, queue, std::min(1000, n - static_cast<int>(leases.size())), vt);
    if (got.empty()) break;
    for (const storage::Message& m : got) leases.push_back(*m.lease);
  }
  return leases;
}

TEST_CASE("the message reaper expires a large backlog in bounded batches",
          "[conformance][reaper]") {
  constexpr int kMessages = 5200;
  constexpr int kReadTwice = 1200;  // dead when their second lease expires
  constexpr int32_t kBatch = 1000;
  auto store = NewTestStore();
  MakeQueue(*store, "q", /*max_read_count=*/2);
  EnqueueMany(*store, "q", kMessages);
  std::vector<storage::Lease> first = LeaseUpTo(*store, "q", kReadTwice, absl::Minutes(5));
  REQUIRE(first.size() == kReadTwice);
  for (const storage::LeaseOutcome o : Ok(store->Nack("q", first, absl::ZeroDuration()))) {
    REQUIRE(o == storage::LeaseOutcome::kOk);
  }
  REQUIRE(LeaseUpTo(*store, "q", kMessages, absl::Milliseconds(300)).size() == kMessages);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));

  storage::ReapReport total;
  int batches = 0;
  bool more = true;
  while (more) {
    storage::ReapReport batch = Ok(store->ReapMessages(absl::Hours(24), kBatch));
    INFO("batch " << batches);
    CHECK(batch.leases_expired <= kBatch);
    CHECK(batch.more == (batch.leases_expired == kBatch));
    total.leases_expired += batch.leases_expired;
    total.dead_lettered += batch.dead_lettered;
    more = batch.more;
    ++batches;
    REQUIRE(batches <= 10);
    // Each batch is its own transaction: other calls run in between.
    EnqueueOne(*store, "q", R"("between")");
  }
  CHECK(batches == 6);
  CHECK(total.leases_expired == kMessages);
  CHECK(total.dead_lettered == kReadTwice);
  storage::QueueCounts counts = Ok(store->GetQueueCounts("q"));
  CHECK(counts.dead == kReadTwice);
  CHECK(counts.pending == kMessages - kReadTwice + batches);
  CHECK(counts.in_flight == 0);
  CHECK(Ok(store->ReapMessages(absl::Hours(24), kBatch)).leases_expired == 0);
}

TEST_CASE("the message reaper deletes archived messages in bounded batches",
          "[conformance][reaper]") {
  auto store = NewTestStore();
  MakeQueue(*store, "q");
  EnqueueMany(*store, "q", 25);
  std::vector<storage::Lease> leases = LeaseUpTo(*store, "q", 25, absl::Minutes(5));
  Ok(store->Ack("q", leases));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  storage::ReapReport first = Ok(store->ReapMessages(absl::Milliseconds(10), 10));
  CHECK(first.archived_deleted == 10);
  CHECK(first.more);
  CHECK(Ok(store->ReapMessages(absl::Milliseconds(10), 10)).archived_deleted == 10);
  storage::ReapReport last = Ok(store->ReapMessages(absl::Milliseconds(10), 10));
  CHECK(last.archived_deleted == 5);
  CHECK_FALSE(last.more);
  CHECK(Ok(store->GetQueueCounts("q")).archived == 0);
}

}  // namespace
}  // namespace pgqrs::testing
