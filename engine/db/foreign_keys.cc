// Foreign keys declared with `REFERENCES parent(id)`, enforced like SQLite with
// foreign_keys=ON: a child row's non-NULL key must name an existing parent row, and a parent
// row that a child still names cannot be deleted. The parent column must be the parent's
// INTEGER PRIMARY KEY, so the parent side is one rowid lookup.
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/btree/btree.h"
#include "engine/db/database.h"

namespace pgqrs::engine {
namespace {

absl::Status ForeignKeyError(const std::string& detail) {
  return absl::FailedPreconditionError(absl::StrCat("FOREIGN KEY constraint failed: ", detail));
}

}  // namespace

absl::Status Transaction::CheckParents(const Database::TableInfo& t, const Row& row,
                                       const Row* old_row) {
  for (size_t i = 0; i < t.def.columns.size(); ++i) {
    const ColumnDef& c = t.def.columns[i];
    if (c.references_table.empty() || row[i].is_null()) continue;
    if (old_row != nullptr && (*old_row)[i] == row[i]) continue;
    auto parent = write_catalog_->tables.find(absl::AsciiStrToLower(c.references_table));
    if (parent == write_catalog_->tables.end()) {
      return ForeignKeyError(
          absl::StrCat(t.def.name, ".", c.name, " references missing table ", c.references_table));
    }
    const TableDef& p = parent->second.def;
    if (p.rowid_column < 0 || p.ColumnIndex(c.references_column) != p.rowid_column) {
      return absl::UnimplementedError(absl::StrCat(
          t.def.name, ".", c.name, ": foreign keys must reference an INTEGER PRIMARY KEY"));
    }
    bool found = false;
    if (row[i].type() == Value::Type::kInteger) {
      BTree tree(writer_, parent->second.root, true);
      PGQRS_ASSIGN_OR_RETURN(std::optional<std::string> payload, tree.Find(row[i].integer()));
      found = payload.has_value();
    }
    if (!found) {
      return ForeignKeyError(absl::StrCat(t.def.name, ".", c.name, " = ", row[i].DebugString(),
                                          " has no row in ", p.name));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> Transaction::HasChild(const Database::TableInfo& child, int col,
                                           int64_t parent_rowid) {
  const Value key = Value::Integer(parent_rowid);
  // An index that lists every non-NULL value of `col` first finds children with one seek.
  for (const std::string& name : child.indexes) {
    const Database::IndexInfo& ix = write_catalog_->indexes.at(name);
    bool covers_non_null = ix.def.where == PartialPredicate::kNone ||
                           (ix.def.where == PartialPredicate::kIsNotNull && ix.where_col == col);
    if (ix.cols[0] != col || !covers_non_null) continue;
    BTree tree(writer_, ix.root, false, ix.desc);
    Cursor cursor(&tree);
    PGQRS_RETURN_IF_ERROR(cursor.SeekGE({key}, /*strict=*/false));
    if (!cursor.Valid()) return false;
    PGQRS_ASSIGN_OR_RETURN(std::vector<Value> entry, DecodeRecord(cursor.payload()));
    return !entry.empty() && entry[0] == key;
  }
  BTree tree(writer_, child.root, true);
  Cursor cursor(&tree);
  PGQRS_RETURN_IF_ERROR(cursor.First());
  while (cursor.Valid()) {
    PGQRS_ASSIGN_OR_RETURN(Row row, DecodeRow(child, cursor.rowid(), cursor.payload()));
    if (row[col] == key) return true;
    PGQRS_RETURN_IF_ERROR(cursor.Next());
  }
  return false;
}

absl::Status Transaction::CheckNoChildren(const Database::TableInfo& t, int64_t rowid) {
  for (const auto& [name, child] : write_catalog_->tables) {
    for (size_t i = 0; i < child.def.columns.size(); ++i) {
      const ColumnDef& c = child.def.columns[i];
      if (!absl::EqualsIgnoreCase(c.references_table, t.def.name)) continue;
      PGQRS_ASSIGN_OR_RETURN(bool referenced, HasChild(child, static_cast<int>(i), rowid));
      if (referenced) {
        return ForeignKeyError(absl::StrCat(t.def.name, " row ", rowid, " is referenced by ",
                                            child.def.name, ".", c.name));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace pgqrs::engine
