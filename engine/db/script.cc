// Transaction::ExecuteScript: runs a schema script in the catalog's SQL subset (script.h).
#include "engine/catalog/script.h"

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/db/database.h"

namespace pgqrs::engine {
namespace {

// Rows of `insert` laid out as `def`'s columns (columns not named are NULL).
absl::StatusOr<std::vector<Row>> FullRows(const InsertStatement& insert, const TableDef& def) {
  std::vector<int> positions;
  for (const std::string& name : insert.columns) {
    int pos = def.ColumnIndex(name);
    if (pos < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("INSERT INTO ", insert.table, ": no column ", name));
    }
    positions.push_back(pos);
  }
  std::vector<Row> rows;
  for (const std::vector<Value>& values : insert.rows) {
    Row row(def.columns.size());
    for (size_t i = 0; i < values.size(); ++i) row[positions[i]] = values[i];
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace

absl::Status Transaction::ExecuteScript(std::string_view sql) {
  PGQRS_ASSIGN_OR_RETURN(std::vector<ScriptStatement> statements, ParseScript(sql));
  for (const ScriptStatement& st : statements) {
    switch (st.kind) {
      case ScriptStatement::Kind::kCreateTable: {
        absl::Status s = CreateTable(st.table);
        if (!(st.if_not_exists && absl::IsAlreadyExists(s))) PGQRS_RETURN_IF_ERROR(s);
        break;
      }
      case ScriptStatement::Kind::kCreateIndex: {
        absl::Status s = CreateIndex(st.index);
        if (!(st.if_not_exists && absl::IsAlreadyExists(s))) PGQRS_RETURN_IF_ERROR(s);
        break;
      }
      case ScriptStatement::Kind::kInsert: {
        PGQRS_ASSIGN_OR_RETURN(Database::TableInfo * t, WritableTable(st.insert.table));
        PGQRS_ASSIGN_OR_RETURN(std::vector<Row> rows, FullRows(st.insert, t->def));
        for (Row& row : rows)
          PGQRS_RETURN_IF_ERROR(Insert(st.insert.table, std::move(row)).status());
        break;
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace pgqrs::engine
