#include "engine/catalog/schema.h"

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"

namespace pgqrs::engine {
namespace {

const char* TypeName(ColumnType t) {
  switch (t) {
    case ColumnType::kInteger:
      return "INTEGER";
    case ColumnType::kText:
      return "TEXT";
    case ColumnType::kBlob:
      return "BLOB";
    case ColumnType::kReal:
      return "REAL";
    case ColumnType::kAny:
      return "";
  }
  return "";
}

// Names are quoted in generated SQL, so any text works except control characters (kept out
// of the schema text) and SQLite's reserved "sqlite_" prefix.
bool ValidName(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return !absl::StartsWithIgnoreCase(s, "sqlite_");
}

// SQLite's identifier quoting: double quotes, embedded double quotes doubled. Always quoting
// keeps reserved words (a table named "order") valid SQL.
std::string Quote(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    out.push_back(c);
    if (c == '"') out.push_back('"');
  }
  out.push_back('"');
  return out;
}

}  // namespace

int TableDef::ColumnIndex(std::string_view name) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (absl::EqualsIgnoreCase(columns[i].name, absl::string_view(name.data(), name.size())))
      return static_cast<int>(i);
  }
  return -1;
}

std::string CreateTableSql(const TableDef& def) {
  std::string sql = absl::StrCat("CREATE TABLE ", Quote(def.name), "(");
  for (size_t i = 0; i < def.columns.size(); ++i) {
    const ColumnDef& c = def.columns[i];
    if (i > 0) sql += ", ";
    sql += Quote(c.name);
    if (c.type != ColumnType::kAny) absl::StrAppend(&sql, " ", TypeName(c.type));
    if (static_cast<int>(i) == def.rowid_column) {
      sql += " PRIMARY KEY";
      if (def.autoincrement) sql += " AUTOINCREMENT";
    }
    if (c.not_null) sql += " NOT NULL";
    if (!c.references_table.empty()) {
      absl::StrAppend(&sql, " REFERENCES ", Quote(c.references_table), "(",
                      Quote(c.references_column), ")");
    }
  }
  return sql + ")";
}

std::string CreateIndexSql(const IndexDef& def) {
  std::string sql = absl::StrCat("CREATE ", def.unique ? "UNIQUE " : "", "INDEX ", Quote(def.name),
                                 " ON ", Quote(def.table), "(");
  for (size_t i = 0; i < def.columns.size(); ++i) {
    if (i > 0) sql += ", ";
    sql += Quote(def.columns[i].name);
    if (def.columns[i].desc) sql += " DESC";
  }
  sql += ")";
  if (def.where == PartialPredicate::kIsNull)
    absl::StrAppend(&sql, " WHERE ", Quote(def.where_column), " IS NULL");
  if (def.where == PartialPredicate::kIsNotNull) {
    absl::StrAppend(&sql, " WHERE ", Quote(def.where_column), " IS NOT NULL");
  }
  return sql;
}

absl::Status ValidateTableDef(const TableDef& def) {
  if (!ValidName(def.name)) return absl::InvalidArgumentError("bad table name: " + def.name);
  if (def.columns.empty()) return absl::InvalidArgumentError("table has no columns");
  for (size_t i = 0; i < def.columns.size(); ++i) {
    if (!ValidName(def.columns[i].name)) {
      return absl::InvalidArgumentError("bad column name: " + def.columns[i].name);
    }
    if (def.ColumnIndex(def.columns[i].name) != static_cast<int>(i)) {
      return absl::InvalidArgumentError("duplicate column: " + def.columns[i].name);
    }
    const ColumnDef& c = def.columns[i];
    if (c.references_table.empty() != c.references_column.empty() ||
        (!c.references_table.empty() &&
         (!ValidName(c.references_table) || !ValidName(c.references_column)))) {
      return absl::InvalidArgumentError("bad REFERENCES clause on column " + c.name);
    }
  }
  if (def.rowid_column >= static_cast<int>(def.columns.size())) {
    return absl::InvalidArgumentError("rowid column out of range");
  }
  if (def.rowid_column >= 0 && def.columns[def.rowid_column].type != ColumnType::kInteger) {
    return absl::InvalidArgumentError("the rowid alias must be an INTEGER column");
  }
  if (def.autoincrement && def.rowid_column < 0) {
    return absl::InvalidArgumentError("AUTOINCREMENT needs an INTEGER PRIMARY KEY");
  }
  return absl::OkStatus();
}

absl::Status ValidateIndexDef(const IndexDef& def, const TableDef& table) {
  if (!ValidName(def.name)) return absl::InvalidArgumentError("bad index name: " + def.name);
  if (def.columns.empty()) return absl::InvalidArgumentError("index has no columns");
  for (const IndexColumn& c : def.columns) {
    if (table.ColumnIndex(c.name) < 0) return absl::InvalidArgumentError("no column " + c.name);
  }
  if (def.where != PartialPredicate::kNone && table.ColumnIndex(def.where_column) < 0) {
    return absl::InvalidArgumentError("no column " + def.where_column);
  }
  return absl::OkStatus();
}

}  // namespace pgqrs::engine
