// libFuzzer target: opens arbitrary bytes as a database (optionally with a WAL), scans every
// table and index, and attempts one write per table. Any crash, sanitizer report, hang or
// PGQRS_CHECK failure is a bug; errors are expected.
//
// Input layout: if the first byte is 'W' or 'K', bytes 1..4 (big-endian) give the database
// length, the database follows and the rest is the WAL. Otherwise the whole input is the
// database. 'K' opens it with a fixed encryption key: LLVMFuzzerInitialize writes encrypted
// seeds (made by the engine with that key) into $FUZZ_SEED_DIR when it is set, so mutations
// reach the clear header, the nonces, tags and ciphertext of real encrypted pages and WAL frames.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "engine/crypto/key.h"
#include "engine/db/database.h"
#include "engine/io/sim_backend.h"

namespace {

using pgqrs::engine::Database;
using pgqrs::engine::DatabaseOptions;
using pgqrs::engine::IndexRange;
using pgqrs::engine::Row;
using pgqrs::engine::SimBackend;
using pgqrs::engine::Value;

constexpr int kMaxSteps = 5000;

std::shared_ptr<const pgqrs::engine::EncryptionKey> FuzzKey() {
  static const auto key =
      *pgqrs::engine::EncryptionKey::FromBytes(std::string(pgqrs::engine::kKeyBytes, 'f'));
  return key;
}

// An encrypted database with a table, an index and rows, with its WAL left behind, as a 'K'
// input.
std::string EncryptedSeed(int rows) {
  auto sim = std::make_shared<SimBackend>(1);
  DatabaseOptions opts;
  opts.backend = sim;
  opts.key = FuzzKey();
  opts.checkpoint_on_close = false;
  auto db = Database::Open("/s.db", opts);
  if (!db.ok()) std::abort();
  auto txn = (*db)->Begin();
  using pgqrs::engine::ColumnType;
  pgqrs::engine::TableDef t{"t", {{"id", ColumnType::kInteger}, {"v", ColumnType::kText}}, 0};
  if (!txn.ok() || !(*txn)->CreateTable(t).ok() ||
      !(*txn)->CreateIndex({"tv", "t", false, {{"v"}}}).ok()) {
    std::abort();
  }
  for (int i = 1; i <= rows; ++i) {
    (*txn)->Insert("t", {Value::Integer(i), Value::Text(std::string(i % 40, 'a'))}).IgnoreError();
  }
  if (!(*txn)->Commit().ok()) std::abort();
  (*db)->Close().IgnoreError();
  std::string d = sim->Contents("/s.db"), w = sim->Contents("/s.db-wal");
  std::string out = "K";
  for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<char>(d.size() >> shift));
  return out + d + w;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("FUZZ_SEED_DIR");
  if (dir == nullptr) return 0;
  for (int rows : {3, 200}) {
    std::ofstream(std::string(dir) + "/encrypted" + std::to_string(rows), std::ios::binary)
        << EncryptedSeed(rows);
  }
  return 0;
}

namespace {

void ScanIndexBothWays(pgqrs::engine::Transaction* txn, const std::string& index) {
  IndexRange r;
  auto it = txn->ScanIndex(index, r);
  for (int n = 0; it.ok() && (*it)->Valid() && n < kMaxSteps; ++n) {
    (*it)->row().IgnoreError();
    if (!(*it)->Next().ok()) break;
  }
  r.reverse = true;
  r.lower = pgqrs::engine::IndexBound{{Value::Integer(3)}, false};
  auto rit = txn->ScanIndex(index, r);
  for (int n = 0; rit.ok() && (*rit)->Valid() && n < kMaxSteps; ++n) {
    if (!(*rit)->Next().ok()) break;
  }
}

void Exercise(Database* db) {
  for (const auto& t : db->Tables()) {
    auto txn = db->Begin();
    if (!txn.ok()) return;
    auto it = (*txn)->ScanTable(t.name);
    for (int n = 0; it.ok() && (*it)->Valid() && n < kMaxSteps; ++n) {
      if (!(*it)->Next().ok()) break;
    }
    auto rit = (*txn)->ScanTable(t.name, /*reverse=*/true);
    for (int n = 0; rit.ok() && (*rit)->Valid() && n < kMaxSteps; ++n) {
      if (!(*rit)->Next().ok()) break;
    }
    (*txn)->Count(t.name).IgnoreError();
    Row row(t.columns.size(), Value::Integer(7));
    (*txn)->Insert(t.name, row).IgnoreError();
    (*txn)->Delete(t.name, 1).IgnoreError();
    (*txn)->Commit().IgnoreError();
  }
  // Index scans run in a writing transaction (the writer's page cache) and in a read
  // transaction (pages read from a pinned snapshot).
  for (const auto& ix : db->Indexes()) {
    for (bool snapshot : {false, true}) {
      auto txn = snapshot ? db->BeginRead() : db->Begin();
      if (!txn.ok()) return;
      ScanIndexBothWays(txn->get(), ix.name);
      (*txn)->Rollback();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  std::string db_bytes = in, wal_bytes;
  const bool encrypted = size >= 5 && data[0] == 'K';
  if (size >= 5 && (data[0] == 'W' || encrypted)) {
    size_t n = (size_t{data[1]} << 24) | (size_t{data[2]} << 16) | (size_t{data[3]} << 8) | data[4];
    if (n > size - 5) n = size - 5;
    db_bytes = in.substr(5, n);
    wal_bytes = in.substr(5 + n);
  }
  auto sim = std::make_shared<SimBackend>(1);
  sim->SetContents("/f.db", db_bytes);
  if (!wal_bytes.empty()) sim->SetContents("/f.db-wal", wal_bytes);
  DatabaseOptions opts;
  opts.backend = sim;
  opts.seed = 1;
  opts.cache_pages = 32;
  if (encrypted) opts.key = FuzzKey();
  auto db = Database::Open("/f.db", opts);
  if (!db.ok()) return 0;
  Exercise(db->get());
  (*db)->Close().IgnoreError();
  return 0;
}
