// A parser for schema scripts written in the engine's SQL subset (engine/FORMAT.md section 2.2):
// `CREATE TABLE [IF NOT EXISTS]`, `CREATE [UNIQUE] INDEX [IF NOT EXISTS]` and
// `INSERT INTO t (cols) VALUES (...), (...)` with integer, text and NULL literals, separated by
// semicolons, with `--` and `/* */` comments. Migration scripts are shared with the sqlite3
// adapter, so what parses here must also be valid SQLite SQL.
// Thread safety: stateless functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/catalog/schema.h"
#include "engine/format/record.h"

namespace pgqrs::engine {

struct InsertStatement {
  std::string table;
  std::vector<std::string> columns;
  std::vector<std::vector<Value>> rows;  // one value per entry of `columns`
};

struct ScriptStatement {
  enum class Kind { kCreateTable, kCreateIndex, kInsert };
  Kind kind = Kind::kCreateTable;
  bool if_not_exists = false;  // CREATE ... IF NOT EXISTS
  TableDef table{};            // kCreateTable
  IndexDef index{};            // kCreateIndex
  InsertStatement insert{};    // kInsert
};

// Parses every statement of `sql` in order. Unimplemented (naming the statement) for SQL
// outside the subset, InvalidArgument for text that does not parse.
absl::StatusOr<std::vector<ScriptStatement>> ParseScript(std::string_view sql);

}  // namespace pgqrs::engine
