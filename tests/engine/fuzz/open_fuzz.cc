// libFuzzer target: opens arbitrary bytes as a database (optionally with a WAL), scans every
// table and index, and attempts one write per table. Any crash, sanitizer report, hang or
// PGQRS_CHECK failure is a bug; errors are expected.
//
// Input layout: if the first byte is 'W', bytes 1..4 (big-endian) give the database length,
// the database follows and the rest is the WAL. Otherwise the whole input is the database.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

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
  for (const auto& ix : db->Indexes()) {
    auto txn = db->Begin();
    if (!txn.ok()) return;
    IndexRange r;
    auto it = (*txn)->ScanIndex(ix.name, r);
    for (int n = 0; it.ok() && (*it)->Valid() && n < kMaxSteps; ++n) {
      (*it)->row().IgnoreError();
      if (!(*it)->Next().ok()) break;
    }
    r.reverse = true;
    r.lower = pgqrs::engine::IndexBound{{Value::Integer(3)}, false};
    auto rit = (*txn)->ScanIndex(ix.name, r);
    for (int n = 0; rit.ok() && (*rit)->Valid() && n < kMaxSteps; ++n) {
      if (!(*rit)->Next().ok()) break;
    }
    (*txn)->Rollback();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  std::string db_bytes = in, wal_bytes;
  if (size >= 5 && data[0] == 'W') {
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
  auto db = Database::Open("/f.db", opts);
  if (!db.ok()) return 0;
  Exercise(db->get());
  (*db)->Close().IgnoreError();
  return 0;
}
