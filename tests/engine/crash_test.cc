// Crash safety with the simulated backend: at hundreds of seeded crash points (between or in
// the middle of transactions, after injected EIO/ENOSPC on writes or fsyncs) the unsynced
// writes are dropped, reordered or torn. Every acknowledged commit must survive, nothing
// unacknowledged may appear (a commit whose Commit() failed may land either way), and both
// the engine (on the real io_uring / POSIX backends) and sqlite3 must accept the image.
#include <catch2/catch.hpp>
#include <cerrno>
#include <optional>
#include <random>

#include "absl/strings/match.h"
#include "engine/crypto/database_file.h"
#include "engine/io/sim_backend.h"
#include "tests/engine/test_util.h"
#include "tests/engine/workload.h"

namespace pgqrs::engine::testing {
namespace {

constexpr char kSimPath[] = "/sim/q.db";

struct Outcome {
  Model acked;
  std::optional<Model> inflight;
};

// The key of the encrypted runs (null: plain runs).
std::shared_ptr<const EncryptionKey> TestKey(bool encrypted) {
  if (!encrypted) return nullptr;
  auto key = EncryptionKey::FromBytes(std::string(kKeyBytes, 'k'));
  REQUIRE(key.ok());
  return *key;
}

// Runs a random workload on `sim` until the chosen crash point, then crashes.
Outcome RunUntilCrash(const std::shared_ptr<SimBackend>& sim, uint64_t seed,
                      const std::shared_ptr<const EncryptionKey>& key) {
  std::mt19937_64 rng(seed);
  DatabaseOptions opts;
  opts.backend = sim;
  opts.key = key;
  opts.seed = seed + 1;
  opts.cache_pages = 16 + rng() % 32;
  opts.wal_checkpoint_pages = 4 + rng() % 24;
  Outcome out;
  auto db = Database::Open(kSimPath, opts);
  INFO(db.status().ToString());
  REQUIRE(db.ok());
  {
    auto txn = (*db)->Begin();
    REQUIRE(txn.ok());
    REQUIRE((*txn)->CreateTable(MsgsTable()).ok());
    for (const IndexDef& ix : MsgsIndexes()) REQUIRE((*txn)->CreateIndex(ix).ok());
    REQUIRE((*txn)->Commit().ok());
  }
  const int txns = 1 + static_cast<int>(rng() % 14);
  const int mode = static_cast<int>(rng() % 3);
  if (mode == 1) sim->InjectFault(SimBackend::Op::kWrite, 1 + rng() % 30, rng() % 2 ? EIO : ENOSPC);
  if (mode == 2) sim->InjectFault(SimBackend::Op::kSync, 1 + rng() % 12, EIO);
  Workload w(seed, 10);
  for (int t = 0; t < txns; ++t) {
    auto txn = (*db)->Begin();
    if (!txn.ok()) break;  // poisoned by an earlier sync failure
    Model model = out.acked;
    int ops = 1 + static_cast<int>(rng() % 12);
    absl::Status step = absl::OkStatus();
    for (int i = 0; i < ops && step.ok(); ++i) step = w.Step(txn->get(), &model);
    if (!step.ok()) {
      // Only an injected write fault can fail an operation (a cache spill to the WAL); the
      // transaction can then only roll back.
      INFO(step.ToString());
      REQUIRE(mode == 1);
      REQUIRE(!(*txn)->Commit().ok());
      break;
    }
    if (t + 1 == txns && rng() % 3 == 0) break;  // crash with the transaction open
    absl::Status s = (*txn)->Commit();
    if (s.ok()) {
      out.acked = std::move(model);
    } else {
      out.inflight = std::move(model);
      break;
    }
  }
  sim->Crash();
  return out;  // `db` is destroyed after the crash: its writes go nowhere
}

void RequireOneOf(const std::vector<Row>& rows, const Outcome& o, Model* matched) {
  auto same = [&](const Model& m) {
    if (m.size() != rows.size()) return false;
    size_t i = 0;
    for (const auto& [id, row] : m) {
      if (!(rows[i++] == row)) return false;
    }
    return true;
  };
  if (same(o.acked)) {
    *matched = o.acked;
    return;
  }
  if (o.inflight && same(*o.inflight)) {
    *matched = *o.inflight;
    return;
  }
  FAIL("recovered " << rows.size() << " rows; acknowledged state has " << o.acked.size()
                    << (o.inflight ? ", in-flight state " + std::to_string(o.inflight->size())
                                   : std::string()));
}

TEST_CASE("acknowledged commits survive simulated crashes, unacknowledged ones do not",
          "[engine][crash]") {
  const std::string backend = GENERATE(as<std::string>{}, "uring", "posix");
  // Encrypted runs: the engine recovers the image, sqlite3 judges a decrypted copy.
  const bool encrypted = GENERATE(false, true);
  const auto key = TestKey(encrypted);
  const int kSeeds = 150;
  std::string dir = NewTempDir("crash");
  int with_inflight = 0, nonempty = 0;
  for (int seed = 0; seed < kSeeds; ++seed) {
    INFO("backend " << backend << " encrypted " << encrypted << " seed " << seed);
    auto sim = std::make_shared<SimBackend>(seed);
    Outcome o = RunUntilCrash(sim, seed, key);
    with_inflight += o.inflight.has_value();
    nonempty += !o.acked.empty();
    const std::string img = dir + "/img" + std::to_string(seed) + ".db";
    WriteFile(img, sim->Contents(kSimPath));
    if (sim->Exists(std::string(kSimPath) + "-wal")) {
      WriteFile(img + "-wal", sim->Contents(std::string(kSimPath) + "-wal"));
    }
    const std::string eng = dir + "/eng" + std::to_string(seed) + ".db";
    CopyFile(img, eng);
    CopyFile(img + "-wal", eng + "-wal");
    Model matched;
    {
      DatabaseOptions opts = Options(backend);
      opts.key = key;
      auto db = Database::Open(eng, opts);
      INFO(db.status().ToString());
      REQUIRE(db.ok());
      RequireOneOf(EngineRows(db->get(), "msgs"), o, &matched);
      CheckEngine(db->get(), matched);
      REQUIRE((*db)->Close().ok());
    }
    if (encrypted) {
      const std::string plain = eng + ".plain";
      KeyRef ref{key, 0};
      absl::Status s = RewriteDatabaseFile(eng, plain, &ref, nullptr);
      INFO(s.ToString());
      REQUIRE(s.ok());
      CheckSqlite(plain, matched);  // the engine's checkpointed result, decrypted
    } else {
      CheckSqlite(eng, matched);  // the engine's checkpointed result
      CheckSqlite(img, matched);  // sqlite3's own recovery of the crashed image
    }
  }
  INFO("seeds with a failed commit: " << with_inflight << ", non-empty: " << nonempty);
  CHECK(with_inflight > 10);
  CHECK(nonempty > kSeeds / 2);
}

TableDef NotesTable() {
  return {"notes", {{"id", ColumnType::kInteger}, {"body", ColumnType::kText}}, 0};
}

TEST_CASE("a failing checkpoint never fails a durable commit and is retried",
          "[engine][crash][checkpoint]") {
  auto sim = std::make_shared<SimBackend>(7);
  DatabaseOptions opts;
  opts.backend = sim;
  opts.seed = 7;
  // Page 1 + the table root make 2 frames; the first insert makes the third and the
  // checkpoint falls due.
  opts.wal_checkpoint_pages = 3;
  auto db = Database::Open(kSimPath, opts);
  REQUIRE(db.ok());
  auto txn = (*db)->Begin();
  REQUIRE(txn.ok());
  REQUIRE((*txn)->CreateTable(NotesTable()).ok());
  REQUIRE((*txn)->Commit().ok());
  txn = (*db)->Begin();
  REQUIRE(txn.ok());
  REQUIRE((*txn)->Insert("notes", {Value::Null(), Value::Text("kept")}).ok());
  // Write 1 appends the commit's frames to the WAL; write 2 is the checkpoint's first write
  // to the database file.
  sim->InjectFault(SimBackend::Op::kWrite, 2, EIO);
  REQUIRE((*txn)->Commit().ok());
  REQUIRE((*db)->checkpoint_error().ok());

  txn = (*db)->Begin();  // runs the due checkpoint, which fails
  REQUIRE(txn.ok());
  INFO((*db)->checkpoint_error().ToString());
  REQUIRE(absl::StrContains((*db)->checkpoint_error().message(), "sim: write"));
  REQUIRE((*txn)->Get("notes", 1)->has_value());
  (*txn)->Rollback();
  txn = (*db)->Begin();  // retries the checkpoint
  REQUIRE(txn.ok());
  REQUIRE((*db)->checkpoint_error().ok());
  (*txn)->Rollback();
  sim->Crash();

  // The database file alone (without the WAL) now holds the commit.
  const std::string img = NewTempDir("ckptfail") + "/img.db";
  WriteFile(img, sim->Contents(kSimPath));
  REQUIRE(SqliteIntegrity(img) == "ok");
  auto rows = SqliteQuery(img, "SELECT id, body FROM notes");
  REQUIRE(rows.size() == 1);
  REQUIRE(rows[0][1].bytes() == "kept");
}

TEST_CASE("a new database and its WAL survive a crash after the first commit",
          "[engine][crash][dirsync]") {
  auto sim = std::make_shared<SimBackend>(3);
  DatabaseOptions opts;
  opts.backend = sim;
  opts.seed = 3;
  {
    auto db = Database::Open(kSimPath, opts);
    REQUIRE(db.ok());
    auto txn = (*db)->Begin();
    REQUIRE(txn.ok());
    REQUIRE((*txn)->CreateTable(NotesTable()).ok());
    REQUIRE((*txn)->Insert("notes", {Value::Null(), Value::Text("first")}).ok());
    REQUIRE((*txn)->Commit().ok());
    // Files created without a directory sync vanish here.
    sim->Crash();
  }
  REQUIRE(sim->dir_sync_count() > 0);
  REQUIRE(sim->Exists(kSimPath));
  REQUIRE(sim->Exists(std::string(kSimPath) + "-wal"));
  auto db = Database::Open(kSimPath, opts);
  REQUIRE(db.ok());
  auto txn = (*db)->Begin();
  REQUIRE(txn.ok());
  auto row = (*txn)->Get("notes", 1);
  REQUIRE(row.ok());
  REQUIRE(row->has_value());
  REQUIRE((**row)[1].bytes() == "first");
}

TEST_CASE("the simulated backend drops unsynced writes and injects faults", "[engine][crash]") {
  auto sim = std::make_shared<SimBackend>(1);
  auto f = sim->Open("/x", true, false);
  REQUIRE(f.ok());
  std::string a(4096, 'a');
  REQUIRE((*f)->Write({WriteOp{0, reinterpret_cast<const uint8_t*>(a.data()), a.size()}}).ok());
  REQUIRE((*f)->Sync().ok());
  std::string b(4096, 'b');
  sim->InjectFault(SimBackend::Op::kWrite, 2, ENOSPC);
  REQUIRE((*f)->Write({WriteOp{0, reinterpret_cast<const uint8_t*>(b.data()), b.size()}}).ok());
  auto s = (*f)->Write({WriteOp{4096, reinterpret_cast<const uint8_t*>(b.data()), b.size()}});
  REQUIRE(absl::IsResourceExhausted(s));
  sim->Crash();
  REQUIRE(absl::IsUnavailable((*f)->Sync()));
  std::string after = sim->Contents("/x");
  REQUIRE(after.empty());  // "/x" was created but its directory never synced: it is gone
  REQUIRE(sim->Open("/y", true, false).ok());
  sim->Crash();
  REQUIRE(!sim->Exists("/y"));
  f = sim->Open("/x", true, false);
  REQUIRE(f.ok());
  REQUIRE((*f)->Write({WriteOp{0, reinterpret_cast<const uint8_t*>(a.data()), a.size()}}).ok());
  REQUIRE((*f)->Sync().ok());
  REQUIRE(sim->SyncDirectory("/").ok());
  REQUIRE((*f)->Write({WriteOp{0, reinterpret_cast<const uint8_t*>(b.data()), b.size()}}).ok());
  sim->Crash();
  after = sim->Contents("/x");
  REQUIRE(after.size() == 4096);
  // Each 512-byte sector is either old or new (torn writes tear at sector boundaries).
  for (size_t i = 0; i < after.size(); i += 512) {
    REQUIRE((after.substr(i, 512) == std::string(512, 'a') ||
             after.substr(i, 512) == std::string(512, 'b')));
  }
}

}  // namespace
}  // namespace pgqrs::engine::testing
