// Typed table and index definitions, the CREATE statements generated from them, and a parser
// for exactly that SQL subset (engine/FORMAT.md section 2).
// Thread safety: plain value types and stateless functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pgqrs::engine {

enum class ColumnType {
  kInteger,
  kText,
  kBlob,
  kReal,
  kAny,  // no declared type (BLOB affinity), e.g. sqlite_sequence's columns
};

struct ColumnDef {
  std::string name;
  ColumnType type = ColumnType::kBlob;
  bool not_null = false;
  // `REFERENCES references_table(references_column)`: a foreign key, enforced by the db layer
  // like SQLite with foreign_keys=ON. Both empty for none. The parent column must be the
  // parent table's INTEGER PRIMARY KEY.
  std::string references_table{};
  std::string references_column{};
};

struct TableDef {
  std::string name;
  std::vector<ColumnDef> columns;
  // Index of the INTEGER PRIMARY KEY column (the rowid alias), or -1 for none.
  int rowid_column = -1;
  // INTEGER PRIMARY KEY AUTOINCREMENT: rowids are never reused (FORMAT.md section 2.1).
  // REQUIRES: rowid_column >= 0.
  bool autoincrement = false;

  // Position of column `name` (case-insensitive), or -1.
  int ColumnIndex(std::string_view name) const;
};

struct IndexColumn {
  std::string name;
  bool desc = false;
};

enum class PartialPredicate { kNone, kIsNull, kIsNotNull };

struct IndexDef {
  std::string name;
  std::string table;
  bool unique = false;
  std::vector<IndexColumn> columns;
  // Optional `WHERE where_column IS [NOT] NULL`.
  PartialPredicate where = PartialPredicate::kNone;
  std::string where_column{};
};

// `CREATE TABLE "name"("col" TYPE [PRIMARY KEY [AUTOINCREMENT]] [NOT NULL]
// [REFERENCES "t"("c")], ...)`. Every identifier is double-quoted (embedded quotes doubled),
// as SQLite quotes them.
std::string CreateTableSql(const TableDef& def);
// `CREATE [UNIQUE] INDEX "name" ON "table"("col" [DESC], ...)[ WHERE "col" IS [NOT] NULL]`.
std::string CreateIndexSql(const IndexDef& def);

// Checks names (1..128 bytes without control characters, not starting with "sqlite_"),
// column types and the rowid alias. InvalidArgument on violations.
absl::Status ValidateTableDef(const TableDef& def);
// Checks `def` against its table. InvalidArgument on unknown columns or bad names.
absl::Status ValidateIndexDef(const IndexDef& def, const TableDef& table);

// Parse the subset. Unimplemented for valid SQL outside the subset, InvalidArgument for text
// that does not parse.
absl::StatusOr<TableDef> ParseCreateTable(std::string_view sql);
absl::StatusOr<IndexDef> ParseCreateIndex(std::string_view sql);

}  // namespace pgqrs::engine
