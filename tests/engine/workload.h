// A seeded random workload over a queue-like table, with an in-memory model of the expected
// rows. Used by the oracle and crash tests.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "engine/db/database.h"

namespace pgqrs::engine::testing {

// msgs(id INTEGER PRIMARY KEY AUTOINCREMENT, queue_id INTEGER NOT NULL, state INTEGER NOT
// NULL, priority INTEGER NOT NULL, vt INTEGER, payload BLOB, label TEXT, score REAL) and five
// indexes: the queue claim index with a DESC column, a UNIQUE index, two partial indexes and
// an index over a BLOB column (large keys overflow).
TableDef MsgsTable();
std::vector<IndexDef> MsgsIndexes();

using Model = std::map<int64_t, Row>;

class Workload {
 public:
  // Labels (a UNIQUE column) are `label_prefix` + a counter.
  Workload(uint64_t seed, int large_percent, std::string label_prefix = "L")
      : rng_(seed), large_percent_(large_percent), prefix_(std::move(label_prefix)) {}
  // Applies one random operation to `txn` and `model`. Returns the status of the engine call.
  absl::Status Step(Transaction* txn, Model* model);
  Row RandomRow();

 private:
  std::mt19937_64 rng_;
  int large_percent_;
  std::string prefix_;
  int64_t label_counter_ = 0;
};

// Sorts model rowids in the order of `index` on `table` (rowid last, ascending), skipping rows
// excluded by a partial predicate. REQUIRES: table.rowid_column >= 0.
std::vector<int64_t> ModelIndexOrder(const Model& model, const TableDef& table,
                                     const IndexDef& index);
// The same for an index from MsgsIndexes.
std::vector<int64_t> ModelIndexOrder(const Model& model, const IndexDef& index);

// Compares the engine's rows, row count and index orders (both directions) of `table` with
// `model` (REQUIREs).
void CheckEngine(Database* db, const TableDef& table, const std::vector<IndexDef>& indexes,
                 const Model& model);
// Compares sqlite3's view of `path` with `model`: integrity_check, rows, and the order of every
// index read through INDEXED BY (REQUIREs).
void CheckSqlite(const std::string& path, const TableDef& table,
                 const std::vector<IndexDef>& indexes, const Model& model);
// The same for the msgs table and MsgsIndexes.
void CheckEngine(Database* db, const Model& model);
void CheckSqlite(const std::string& path, const Model& model);

}  // namespace pgqrs::engine::testing
