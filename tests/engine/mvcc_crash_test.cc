// Crash safety of concurrent transactions (mvcc on) with the simulated backend: at hundreds of
// seeded crash points several concurrent transactions are open, commit in random order (some
// lose write conflicts), the writer spills, checkpoints copy the WAL and restart it, and an
// injected EIO/ENOSPC may hit a WAL append, a spill, a checkpoint write or an fsync. After the
// crash every acknowledged commit must be there and nothing else (a commit whose Commit failed
// with an I/O error may land either way), as read by the engine and by sqlite3.
#include <catch2/catch.hpp>
#include <cerrno>
#include <map>
#include <optional>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "engine/crypto/database_file.h"
#include "engine/io/sim_backend.h"
#include "tests/engine/test_util.h"

namespace pgqrs::engine::testing {
namespace {

constexpr char kSimPath[] = "/sim/kv.db";

// kv(id INTEGER PRIMARY KEY, value INTEGER NOT NULL, tag TEXT NOT NULL, pad TEXT) with a UNIQUE
// index on tag and an index on value.
TableDef KvTable() {
  return {"kv",
          {{"id", ColumnType::kInteger},
           {"value", ColumnType::kInteger, true},
           {"tag", ColumnType::kText, true},
           {"pad", ColumnType::kText}},
          0};
}

using Model = std::map<int64_t, Row>;

// A concurrent transaction and the changes it made, to apply to the model if it commits.
struct Open {
  std::unique_ptr<Transaction> txn;
  Model writes;                  // rowid -> new row
  std::vector<int64_t> deletes;  // rowids of its snapshot deleted
  std::set<int64_t> inserted;    // rowids it inserted
};

struct Outcome {
  Model acked;
  std::optional<Model> inflight;
  bool checkpoint_failed = false;
};

Model Applied(const Model& base, const Open& o) {
  Model m = base;
  for (int64_t id : o.deletes) m.erase(id);
  for (const auto& [id, row] : o.writes) m[id] = row;
  return m;
}

// Rows of the transaction's own view (its snapshot plus its changes).
std::vector<int64_t> VisibleIds(Transaction* txn) {
  std::vector<int64_t> ids;
  auto it = txn->ScanTable("kv");
  REQUIRE(it.ok());
  while ((*it)->Valid()) {
    ids.push_back((*it)->rowid());
    REQUIRE((*it)->Next().ok());
  }
  return ids;
}

// One random change in `o`. Returns its status: OK or an early write conflict (an injected
// fault cannot hit it: concurrent transactions write only private pages).
absl::Status Change(Open* o, std::mt19937_64& rng, int64_t* tags) {
  std::vector<int64_t> ids = VisibleIds(o->txn.get());
  const int kind = ids.empty() ? 0 : static_cast<int>(rng() % 3);
  const std::string pad(rng() % 4 == 0 ? 1500 : 60, static_cast<char>('a' + rng() % 26));
  if (kind == 0) {
    Row row{Value::Null(), Value::Integer(static_cast<int64_t>(rng() % 1000)),
            Value::Text(absl::StrCat("tag", ++*tags)), Value::Text(pad)};
    absl::StatusOr<int64_t> id = o->txn->Insert("kv", row);
    if (!id.ok()) return id.status();
    row[0] = Value::Integer(*id);
    o->writes[*id] = row;
    o->inserted.insert(*id);
    return absl::OkStatus();
  }
  const int64_t id = ids[rng() % ids.size()];
  if (kind == 1) {
    auto old = o->txn->Get("kv", id);
    if (!old.ok()) return old.status();
    Row row = **old;
    row[1] = Value::Integer(static_cast<int64_t>(rng() % 1000));
    row[3] = Value::Text(pad);
    absl::Status s = o->txn->Update("kv", id, row);
    if (s.ok()) o->writes[id] = row;
    return s;
  }
  absl::StatusOr<bool> gone = o->txn->Delete("kv", id);
  if (!gone.ok()) return gone.status();
  REQUIRE(*gone);
  o->writes.erase(id);
  if (o->inserted.count(id) == 0) o->deletes.push_back(id);
  return absl::OkStatus();
}

Outcome RunUntilCrash(const std::shared_ptr<SimBackend>& sim, uint64_t seed,
                      const std::shared_ptr<const EncryptionKey>& key) {
  std::mt19937_64 rng(seed);
  DatabaseOptions opts;
  opts.backend = sim;
  opts.key = key;
  opts.seed = seed + 1;
  opts.mvcc = true;
  opts.cache_pages = 16 + rng() % 32;
  opts.wal_checkpoint_pages = 4 + rng() % 24;
  Outcome out;
  auto db = Database::Open(kSimPath, opts);
  INFO(db.status().ToString());
  REQUIRE(db.ok());
  {
    auto txn = (*db)->Begin();
    REQUIRE(txn.ok());
    REQUIRE((*txn)->CreateTable(KvTable()).ok());
    REQUIRE((*txn)->CreateIndex({"kv_tag", "kv", /*unique=*/true, {{"tag"}}}).ok());
    REQUIRE((*txn)->CreateIndex({"kv_value", "kv", false, {{"value"}}}).ok());
    REQUIRE((*txn)->Commit().ok());
  }
  const int mode = static_cast<int>(rng() % 3);
  if (mode == 1) sim->InjectFault(SimBackend::Op::kWrite, 1 + rng() % 40, rng() % 2 ? EIO : ENOSPC);
  if (mode == 2) sim->InjectFault(SimBackend::Op::kSync, 1 + rng() % 16, EIO);
  int64_t tags = 0;
  std::vector<Open> open;
  const int steps = 5 + static_cast<int>(rng() % 60);
  for (int step = 0; step < steps; ++step) {
    const int action = static_cast<int>(rng() % 4);
    if (open.empty() || (action == 0 && open.size() < 5)) {
      auto txn = (*db)->BeginConcurrent();
      if (!txn.ok()) break;  // the database failed an fsync: it must be reopened
      open.push_back(Open{std::move(*txn), {}, {}, {}});
    } else if (action <= 2) {
      const size_t i = rng() % open.size();
      absl::Status s = Change(&open[i], rng, &tags);
      INFO(s.ToString());
      REQUIRE((s.ok() || IsWriteConflict(s)));
      if (!s.ok()) open.erase(open.begin() + static_cast<std::ptrdiff_t>(i));  // rolls back
    } else {
      const size_t i = rng() % open.size();
      Open o = std::move(open[i]);
      open.erase(open.begin() + static_cast<std::ptrdiff_t>(i));
      absl::Status s = o.txn->Commit();
      out.checkpoint_failed |= !(*db)->checkpoint_error().ok();
      if (s.ok()) {
        out.acked = Applied(out.acked, o);
      } else if (!IsWriteConflict(s)) {
        out.inflight = Applied(out.acked, o);
        break;
      }
    }
  }
  sim->Crash();
  return out;  // open transactions and `db` end after the crash: their writes go nowhere
}

Model RowsOf(const std::vector<Row>& rows) {
  Model m;
  for (const Row& r : rows) m[r[0].integer()] = r;
  return m;
}

void RequireOneOf(const Model& got, const Outcome& o) {
  if (got == o.acked) return;
  if (o.inflight && got == *o.inflight) return;
  FAIL("recovered " << got.size() << " rows; acknowledged state has " << o.acked.size()
                    << (o.inflight ? ", in-flight state " + std::to_string(o.inflight->size())
                                   : std::string()));
}

TEST_CASE("concurrent transactions: acknowledged commits survive simulated crashes",
          "[engine][crash][mvcc]") {
  const bool encrypted = GENERATE(false, true);
  std::shared_ptr<const EncryptionKey> key;
  if (encrypted) {
    auto k = EncryptionKey::FromBytes(std::string(kKeyBytes, 'm'));
    REQUIRE(k.ok());
    key = *k;
  }
  const int kSeeds = 200;
  const std::string dir = NewTempDir("mvcc_crash");
  int with_inflight = 0, nonempty = 0, checkpoint_faults = 0;
  for (int seed = 0; seed < kSeeds; ++seed) {
    INFO("encrypted " << encrypted << " seed " << seed);
    auto sim = std::make_shared<SimBackend>(seed);
    Outcome o = RunUntilCrash(sim, seed, key);
    with_inflight += o.inflight.has_value();
    nonempty += !o.acked.empty();
    checkpoint_faults += o.checkpoint_failed;
    const std::string img = dir + "/img" + std::to_string(seed) + ".db";
    WriteFile(img, sim->Contents(kSimPath));
    if (sim->Exists(std::string(kSimPath) + "-wal")) {
      WriteFile(img + "-wal", sim->Contents(std::string(kSimPath) + "-wal"));
    }
    const std::string eng = dir + "/eng" + std::to_string(seed) + ".db";
    CopyFile(img, eng);
    CopyFile(img + "-wal", eng + "-wal");
    {
      DatabaseOptions opts = Options("posix");
      opts.key = key;
      opts.mvcc = true;
      auto db = Database::Open(eng, opts);
      INFO(db.status().ToString());
      REQUIRE(db.ok());
      RequireOneOf(RowsOf(EngineRows(db->get(), "kv")), o);
      REQUIRE((*db)->Close().ok());
    }
    std::string judged = img;  // sqlite3 recovers the crashed image itself
    if (encrypted) {
      judged = eng + ".plain";  // the engine's recovered result, decrypted
      KeyRef ref{key, 0};
      absl::Status s = RewriteDatabaseFile(eng, judged, &ref, nullptr);
      INFO(s.ToString());
      REQUIRE(s.ok());
    }
    REQUIRE(SqliteIntegrity(judged) == "ok");
    RequireOneOf(RowsOf(SqliteQuery(judged, "SELECT id, value, tag, pad FROM kv ORDER BY id")), o);
  }
  WARN("seeds with a failed commit: " << with_inflight << ", non-empty: " << nonempty
                                      << ", failed checkpoints: " << checkpoint_faults);
  CHECK(with_inflight > 10);
  CHECK(nonempty > kSeeds / 2);
  CHECK(checkpoint_faults > 5);
}

}  // namespace
}  // namespace pgqrs::engine::testing
