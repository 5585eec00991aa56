#include <cmath>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "engine/base/errno_status.h"
#include "engine/base/status_macros.h"
#include "engine/btree/btree.h"
#include "engine/db/database.h"
#include "engine/pager/pager.h"
#include "engine/pager/private_pages.h"
#include "engine/pager/snapshot_pages.h"

namespace pgqrs::engine {
namespace {

std::string Lower(std::string_view s) { return absl::AsciiStrToLower(std::string(s)); }

// The index key of `row` (indexed values, then the rowid), or nullopt when the row does not
// satisfy the partial-index predicate.
std::optional<std::vector<Value>> IndexKey(const std::vector<int>& cols, int where_col,
                                           PartialPredicate where, const Row& row, int64_t rowid) {
  if (where != PartialPredicate::kNone) {
    bool is_null = row[where_col].is_null();
    if (is_null != (where == PartialPredicate::kIsNull)) return std::nullopt;
  }
  std::vector<Value> key;
  key.reserve(cols.size() + 1);
  for (int c : cols) key.push_back(row[c]);
  key.push_back(Value::Integer(rowid));
  return key;
}

// The record stored for `row` in its table: the rowid alias column, whose value is the rowid
// itself, is stored as NULL (as sqlite3 does). `row` is left as it was.
std::string StoredRecord(const TableDef& def, Row& row) {
  std::string rec;
  if (def.rowid_column < 0) {
    EncodeRecord(row, &rec);
    return rec;
  }
  Value rowid = std::exchange(row[def.rowid_column], Value::Null());
  EncodeRecord(row, &rec);
  row[def.rowid_column] = std::move(rowid);
  return rec;
}

}  // namespace

Transaction::Transaction(Database* db)
    : db_(db),
      kind_(Kind::kExclusive),
      pages_(db->pager_.get()),
      catalog_(&db->catalog_),
      writer_(db->pager_.get()),
      write_catalog_(&db->catalog_) {}

Transaction::Transaction(Database* db, std::unique_ptr<SnapshotPages> snapshot,
                         std::shared_ptr<const Database::Catalog> catalog)
    : db_(db),
      kind_(Kind::kRead),
      snapshot_(std::move(snapshot)),
      snapshot_catalog_(std::move(catalog)),
      pages_(snapshot_.get()),
      catalog_(snapshot_catalog_.get()),
      writer_(nullptr),
      write_catalog_(nullptr) {}

Transaction::Transaction(Database* db, std::unique_ptr<PrivatePages> pages,
                         std::unique_ptr<Database::Catalog> catalog)
    : db_(db),
      kind_(Kind::kConcurrent),
      private_pages_(std::move(pages)),
      private_catalog_(std::move(catalog)),
      pages_(private_pages_.get()),
      catalog_(private_catalog_.get()),
      writer_(private_pages_.get()),
      write_catalog_(private_catalog_.get()) {}

Transaction::~Transaction() {
  if (!done_) Rollback();
}

void Transaction::End() {
  done_ = true;
  switch (kind_) {
    case Kind::kExclusive:
      db_->txn_mu_.Unlock();
      return;
    case Kind::kRead:
      snapshot_.reset();  // releases the pin
      snapshot_catalog_.reset();
      return;
    case Kind::kConcurrent:
      db_->write_stamps_.Unpin(private_pages_->snapshot().lsn);
      private_pages_.reset();  // releases the pin
      private_catalog_.reset();
      ops_.clear();
      return;
  }
}

absl::Status Transaction::Poison(absl::Status s) {
  if (!s.ok() && broken_.ok()) broken_ = s;
  return s;
}

absl::Status Transaction::CheckWritable() const {
  if (done_) return absl::FailedPreconditionError("transaction has ended");
  if (!broken_.ok()) return broken_;
  if (kind_ == Kind::kRead) return absl::FailedPreconditionError("read transaction");
  if (db_->options_.read_only) return absl::FailedPreconditionError("read-only database");
  return absl::OkStatus();
}

absl::StatusOr<const Database::TableInfo*> Transaction::ReadableTable(std::string_view name) {
  if (done_) return absl::FailedPreconditionError("transaction has ended");
  if (!broken_.ok()) return broken_;
  auto it = catalog_->tables.find(Lower(name));
  if (it == catalog_->tables.end()) {
    return absl::NotFoundError(absl::StrCat("no table ", std::string(name)));
  }
  if (it->second.def.columns.empty()) {
    return absl::UnimplementedError(
        absl::StrCat("table ", std::string(name), " uses unsupported SQL"));
  }
  return &it->second;
}

absl::StatusOr<Database::TableInfo*> Transaction::WritableTable(std::string_view name) {
  PGQRS_RETURN_IF_ERROR(CheckWritable());
  PGQRS_RETURN_IF_ERROR(ReadableTable(name).status());
  Database::TableInfo* t = &write_catalog_->tables.at(Lower(name));
  if (!t->writable) {
    return absl::FailedPreconditionError(
        absl::StrCat("table ", std::string(name), " has unsupported indexes"));
  }
  return t;
}

absl::StatusOr<Row> Transaction::Normalize(const Database::TableInfo& t, Row row) const {
  const TableDef& def = t.def;
  if (row.size() != def.columns.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(def.name, ": expected ", def.columns.size(), " values, got ", row.size()));
  }
  for (size_t i = 0; i < row.size(); ++i) {
    const ColumnDef& c = def.columns[i];
    Value& v = row[i];
    auto bad = [&] {
      return absl::InvalidArgumentError(absl::StrCat("bad value for ", def.name, ".", c.name));
    };
    if (v.is_null()) {
      if (c.not_null && static_cast<int>(i) != def.rowid_column) {
        return absl::InvalidArgumentError(absl::StrCat("NULL in ", def.name, ".", c.name));
      }
      continue;
    }
    switch (c.type) {
      case ColumnType::kInteger:
        if (v.type() != Value::Type::kInteger) return bad();
        break;
      case ColumnType::kReal:
        if (v.type() == Value::Type::kInteger) v = Value::Real(static_cast<double>(v.integer()));
        if (v.type() != Value::Type::kReal || std::isnan(v.real())) return bad();
        break;
      case ColumnType::kText:
        if (v.type() != Value::Type::kText && v.type() != Value::Type::kBlob) return bad();
        break;
      case ColumnType::kBlob:
      case ColumnType::kAny:
        if (v.type() == Value::Type::kReal && std::isnan(v.real())) return bad();
        break;
    }
  }
  return row;
}

absl::StatusOr<Row> Transaction::DecodeRow(const Database::TableInfo& t, int64_t rowid,
                                           std::string_view payload) const {
  PGQRS_ASSIGN_OR_RETURN(Row row, DecodeRecord(payload));
  if (row.size() > t.def.columns.size()) {
    return absl::DataLossError(absl::StrCat(t.def.name, ": row ", rowid, " has too many values"));
  }
  row.resize(t.def.columns.size());
  for (size_t i = 0; i < row.size(); ++i) {
    // REAL affinity: sqlite3 stores integral reals as integers and converts them on read.
    if (t.def.columns[i].type == ColumnType::kReal && row[i].type() == Value::Type::kInteger) {
      row[i] = Value::Real(static_cast<double>(row[i].integer()));
    }
  }
  if (t.def.rowid_column >= 0) row[t.def.rowid_column] = Value::Integer(rowid);
  return row;
}

std::vector<Transaction::IndexEdit> Transaction::IndexEdits(const Database::TableInfo& t,
                                                            const Row* before, const Row* after,
                                                            int64_t rowid) const {
  std::vector<IndexEdit> edits;
  edits.reserve(t.indexes.size());
  for (const std::string& name : t.indexes) {
    const Database::IndexInfo& ix = write_catalog_->indexes.at(name);
    IndexEdit e{&ix, std::nullopt, std::nullopt};
    if (before != nullptr) e.before = IndexKey(ix.cols, ix.where_col, ix.def.where, *before, rowid);
    if (after != nullptr) e.after = IndexKey(ix.cols, ix.where_col, ix.def.where, *after, rowid);
    if (e.before != e.after) edits.push_back(std::move(e));
  }
  return edits;
}

absl::Status Transaction::CheckUnique(const Database::IndexInfo& ix,
                                      const std::vector<Value>& entry) {
  if (!ix.def.unique) return absl::OkStatus();
  const int64_t rowid = entry.back().integer();
  std::vector<Value> key(entry.begin(), entry.end() - 1);
  for (const Value& v : key) {
    if (v.is_null()) return absl::OkStatus();  // NULLs are distinct
  }
  BTree tree(writer_, ix.root, false, ix.desc);
  Cursor c(&tree);
  PGQRS_RETURN_IF_ERROR(c.SeekGE(key, false));
  while (c.Valid()) {
    PGQRS_ASSIGN_OR_RETURN(int cmp, CompareRecordToKey(c.payload(), key, ix.desc));
    if (cmp != 0) break;
    PGQRS_ASSIGN_OR_RETURN(std::vector<Value> found, DecodeRecord(c.payload()));
    if (found.empty() || found.back().type() != Value::Type::kInteger ||
        found.back().integer() != rowid) {
      return absl::AlreadyExistsError(absl::StrCat("UNIQUE constraint failed: ", ix.def.name));
    }
    PGQRS_RETURN_IF_ERROR(c.Next());
  }
  return absl::OkStatus();
}

absl::Status Transaction::CheckUnique(const std::vector<IndexEdit>& edits) {
  for (const IndexEdit& e : edits) {
    if (e.after) PGQRS_RETURN_IF_ERROR(CheckUnique(*e.ix, *e.after));
  }
  return absl::OkStatus();
}

absl::Status Transaction::AddIndexEntries(const std::vector<IndexEdit>& edits) {
  std::string rec;
  for (const IndexEdit& e : edits) {
    if (!e.after) continue;
    rec.clear();
    EncodeRecord(*e.after, &rec);
    BTree tree(writer_, e.ix->root, false, e.ix->desc);
    PGQRS_RETURN_IF_ERROR(tree.InsertKey(rec, *e.after));
  }
  return absl::OkStatus();
}

absl::Status Transaction::RemoveIndexEntries(const std::vector<IndexEdit>& edits) {
  for (const IndexEdit& e : edits) {
    if (!e.before) continue;
    BTree tree(writer_, e.ix->root, false, e.ix->desc);
    PGQRS_ASSIGN_OR_RETURN(bool found, tree.DeleteKey(*e.before));
    if (!found) {
      return absl::DataLossError(
          absl::StrCat("row ", e.before->back().integer(), " missing from index ", e.ix->def.name));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> Transaction::AllocateRowid(Database::TableInfo* t) {
  BTree tree(writer_, t->root, true);
  PGQRS_ASSIGN_OR_RETURN(std::optional<int64_t> max, tree.MaxRowid());
  int64_t base = max.value_or(0);
  if (t->def.autoincrement) base = std::max(base, t->seq.value_or(0));
  if (base == INT64_MAX) return absl::ResourceExhaustedError("rowids exhausted");
  if (!db_->options_.mvcc) return base + 1;
  // Concurrent transactions see different maxima: the shared counter keeps them apart.
  std::optional<int64_t> rowid = db_->write_stamps_.NextRowid(t->root, base + 1);
  if (!rowid) return absl::ResourceExhaustedError("rowids exhausted");
  return *rowid;
}

absl::Status Transaction::CheckNotWrittenSince(const Database::TableInfo& t, int64_t rowid) {
  if (kind_ != Kind::kConcurrent) return absl::OkStatus();
  std::optional<RowConflict> conflict =
      db_->write_stamps_.FindConflict({{t.root, rowid}}, private_pages_->snapshot().lsn);
  if (!conflict) return absl::OkStatus();
  return db_->ConflictOnceDurable(
      conflict->lsn, absl::StrCat("row ", rowid, " of ", t.def.name,
                                  " was changed by a transaction that committed first"));
}

void Transaction::RecordWrite(const Database::TableInfo& t, RowOp::Type type, int64_t rowid,
                              const Row* row) {
  if (!db_->options_.mvcc) return;
  written_.emplace_back(t.root, rowid);
  if (kind_ == Kind::kConcurrent) {
    ops_.push_back(RowOp{type, t.def.name, rowid, row != nullptr ? *row : Row()});
  }
}

absl::StatusOr<int64_t> Transaction::Insert(std::string_view table, Row row) {
  PGQRS_ASSIGN_OR_RETURN(Database::TableInfo * t, WritableTable(table));
  PGQRS_ASSIGN_OR_RETURN(row, Normalize(*t, std::move(row)));
  const int rc = t->def.rowid_column;
  int64_t rowid;
  if (rc >= 0 && !row[rc].is_null()) {
    rowid = row[rc].integer();
  } else {
    PGQRS_ASSIGN_OR_RETURN(rowid, AllocateRowid(t));
  }
  return InsertRow(t, rowid, std::move(row));
}

absl::StatusOr<int64_t> Transaction::InsertRow(Database::TableInfo* t, int64_t rowid, Row row) {
  BTree tree(writer_, t->root, true);
  PGQRS_ASSIGN_OR_RETURN(std::optional<std::string> existing, tree.Find(rowid));
  if (existing) return absl::AlreadyExistsError(absl::StrCat("rowid ", rowid, " exists"));
  const int rc = t->def.rowid_column;
  if (rc >= 0) row[rc] = Value::Integer(rowid);
  PGQRS_RETURN_IF_ERROR(CheckParents(*t, row, nullptr));
  const std::vector<IndexEdit> edits = IndexEdits(*t, nullptr, &row, rowid);
  PGQRS_RETURN_IF_ERROR(CheckUnique(edits));
  PGQRS_RETURN_IF_ERROR(Poison(tree.Insert(rowid, StoredRecord(t->def, row))));
  PGQRS_RETURN_IF_ERROR(Poison(AddIndexEntries(edits)));
  if (t->def.autoincrement && (!t->seq || rowid > *t->seq)) {
    t->seq = rowid;
    t->seq_dirty = true;
  }
  if (db_->options_.mvcc) db_->write_stamps_.NoteRowid(t->root, rowid);
  RecordWrite(*t, RowOp::Type::kInsert, rowid, &row);
  return rowid;
}

absl::Status Transaction::Update(std::string_view table, int64_t rowid, Row row) {
  PGQRS_ASSIGN_OR_RETURN(Database::TableInfo * t, WritableTable(table));
  PGQRS_ASSIGN_OR_RETURN(std::optional<Row> old, Get(table, rowid));
  if (!old) return absl::NotFoundError(absl::StrCat("no row ", rowid, " in ", std::string(table)));
  return Replace(*t, rowid, *old, std::move(row));
}

absl::StatusOr<bool> Transaction::Modify(std::string_view table, int64_t rowid,
                                         const std::function<absl::Status(Row&)>& edit) {
  PGQRS_ASSIGN_OR_RETURN(Database::TableInfo * t, WritableTable(table));
  PGQRS_ASSIGN_OR_RETURN(std::optional<Row> old, Get(table, rowid));
  if (!old) return false;
  Row row = *old;
  PGQRS_RETURN_IF_ERROR(edit(row));
  if (row != *old) PGQRS_RETURN_IF_ERROR(Replace(*t, rowid, *old, std::move(row)));
  return true;
}

absl::Status Transaction::Replace(const Database::TableInfo& t, int64_t rowid, const Row& old,
                                  Row row) {
  PGQRS_ASSIGN_OR_RETURN(row, Normalize(t, std::move(row)));
  const int rc = t.def.rowid_column;
  if (rc >= 0) {
    if (!row[rc].is_null() && row[rc].integer() != rowid) {
      return absl::InvalidArgumentError("Update cannot change the rowid");
    }
    row[rc] = Value::Integer(rowid);
  }
  PGQRS_RETURN_IF_ERROR(CheckNotWrittenSince(t, rowid));
  PGQRS_RETURN_IF_ERROR(CheckParents(t, row, &old));
  // Entries that keep their key are left alone (and cannot collide with another one).
  const std::vector<IndexEdit> edits = IndexEdits(t, &old, &row, rowid);
  PGQRS_RETURN_IF_ERROR(CheckUnique(edits));
  PGQRS_RETURN_IF_ERROR(Poison(RemoveIndexEntries(edits)));
  BTree tree(writer_, t.root, true);
  PGQRS_RETURN_IF_ERROR(Poison(tree.Insert(rowid, StoredRecord(t.def, row))));
  PGQRS_RETURN_IF_ERROR(Poison(AddIndexEntries(edits)));
  RecordWrite(t, RowOp::Type::kUpdate, rowid, &row);
  return absl::OkStatus();
}

absl::StatusOr<bool> Transaction::Delete(std::string_view table, int64_t rowid) {
  PGQRS_ASSIGN_OR_RETURN(Database::TableInfo * t, WritableTable(table));
  PGQRS_ASSIGN_OR_RETURN(std::optional<Row> old, Get(table, rowid));
  if (!old) return false;
  PGQRS_RETURN_IF_ERROR(CheckNotWrittenSince(*t, rowid));
  PGQRS_RETURN_IF_ERROR(CheckNoChildren(*t, rowid));
  PGQRS_RETURN_IF_ERROR(Poison(RemoveIndexEntries(IndexEdits(*t, &*old, nullptr, rowid))));
  BTree tree(writer_, t->root, true);
  absl::StatusOr<bool> found = tree.Delete(rowid);
  if (!found.ok()) return Poison(found.status());
  if (*found) RecordWrite(*t, RowOp::Type::kDelete, rowid, nullptr);
  return *found;
}

absl::StatusOr<std::optional<Row>> Transaction::Get(std::string_view table, int64_t rowid) {
  PGQRS_ASSIGN_OR_RETURN(const Database::TableInfo* t, ReadableTable(table));
  BTree tree(pages_, t->root, true);
  PGQRS_ASSIGN_OR_RETURN(std::optional<std::string> payload, tree.Find(rowid));
  if (!payload) return std::optional<Row>();
  PGQRS_ASSIGN_OR_RETURN(Row row, DecodeRow(*t, rowid, *payload));
  return std::optional<Row>(std::move(row));
}

absl::StatusOr<int64_t> Transaction::Count(std::string_view table) {
  PGQRS_ASSIGN_OR_RETURN(const Database::TableInfo* t, ReadableTable(table));
  BTree tree(pages_, t->root, true);
  return tree.Count();
}

absl::Status Transaction::InsertSchemaRow(const std::string& type, const std::string& name,
                                          const std::string& table, uint32_t root,
                                          const std::string& sql) {
  BTree schema(db_->pager_.get(), 1, true);
  PGQRS_ASSIGN_OR_RETURN(std::optional<int64_t> max, schema.MaxRowid());
  std::string rec;
  EncodeRecord({Value::Text(type), Value::Text(name), Value::Text(table), Value::Integer(root),
                Value::Text(sql)},
               &rec);
  PGQRS_RETURN_IF_ERROR(schema.Insert(max.value_or(0) + 1, rec));
  schema_changed_ = true;
  return absl::OkStatus();
}

absl::Status Transaction::CheckSchemaChange() const {
  PGQRS_RETURN_IF_ERROR(CheckWritable());
  if (kind_ != Kind::kExclusive) {
    return absl::FailedPreconditionError("schema changes need an exclusive transaction (Begin)");
  }
  return absl::OkStatus();
}

absl::Status Transaction::CreateTable(const TableDef& def) {
  PGQRS_RETURN_IF_ERROR(CheckSchemaChange());
  PGQRS_RETURN_IF_ERROR(ValidateTableDef(def));
  std::string key = Lower(def.name);
  if (db_->catalog_.tables.count(key) || db_->catalog_.indexes.count(key)) {
    return absl::AlreadyExistsError("name already used: " + def.name);
  }
  Pager* pager = db_->pager_.get();
  if (def.autoincrement && db_->sequence_root_ == 0) {
    absl::StatusOr<uint32_t> root = BTree::Create(pager, true);
    if (!root.ok()) return Poison(root.status());
    PGQRS_RETURN_IF_ERROR(Poison(InsertSchemaRow("table", "sqlite_sequence", "sqlite_sequence",
                                                 *root, "CREATE TABLE sqlite_sequence(name,seq)")));
    db_->sequence_root_ = *root;
  }
  absl::StatusOr<uint32_t> root = BTree::Create(pager, true);
  if (!root.ok()) return Poison(root.status());
  PGQRS_RETURN_IF_ERROR(
      Poison(InsertSchemaRow("table", def.name, def.name, *root, CreateTableSql(def))));
  Database::TableInfo info;
  info.def = def;
  info.root = *root;
  db_->catalog_.tables[key] = std::move(info);
  return absl::OkStatus();
}

absl::Status Transaction::CreateIndex(const IndexDef& def) {
  PGQRS_RETURN_IF_ERROR(CheckSchemaChange());
  PGQRS_ASSIGN_OR_RETURN(Database::TableInfo * t, WritableTable(def.table));
  PGQRS_RETURN_IF_ERROR(ValidateIndexDef(def, t->def));
  std::string key = Lower(def.name);
  if (db_->catalog_.tables.count(key) || db_->catalog_.indexes.count(key)) {
    return absl::AlreadyExistsError("name already used: " + def.name);
  }
  Database::IndexInfo ix;
  ix.def = def;
  ix.def.table = t->def.name;
  for (const IndexColumn& c : def.columns) {
    ix.cols.push_back(t->def.ColumnIndex(c.name));
    ix.desc.push_back(c.desc);
  }
  if (def.where != PartialPredicate::kNone) ix.where_col = t->def.ColumnIndex(def.where_column);
  absl::StatusOr<uint32_t> root = BTree::Create(db_->pager_.get(), false);
  if (!root.ok()) return Poison(root.status());
  ix.root = *root;
  PGQRS_RETURN_IF_ERROR(
      Poison(InsertSchemaRow("index", def.name, t->def.name, ix.root, CreateIndexSql(ix.def))));
  db_->catalog_.indexes[key] = ix;
  t->indexes.push_back(key);
  // Fill from the existing rows.
  BTree table(db_->pager_.get(), t->root, true);
  BTree index(db_->pager_.get(), ix.root, false, ix.desc);
  Cursor c(&table);
  PGQRS_RETURN_IF_ERROR(Poison(c.First()));
  while (c.Valid()) {
    PGQRS_ASSIGN_OR_RETURN(Row row, DecodeRow(*t, c.rowid(), c.payload()));
    auto k = IndexKey(ix.cols, ix.where_col, ix.def.where, row, c.rowid());
    if (k) {
      PGQRS_RETURN_IF_ERROR(Poison(CheckUnique(ix, *k)));
      std::string rec;
      EncodeRecord(*k, &rec);
      PGQRS_RETURN_IF_ERROR(Poison(index.InsertKey(rec)));
    }
    PGQRS_RETURN_IF_ERROR(Poison(c.Next()));
  }
  return absl::OkStatus();
}

absl::Status Transaction::FlushSequences() {
  if (db_->sequence_root_ == 0) return absl::OkStatus();
  BTree seq(db_->pager_.get(), db_->sequence_root_, true);
  for (auto& [name, t] : db_->catalog_.tables) {
    if (!t.seq_dirty) continue;
    int64_t rowid = 0;
    Cursor c(&seq);
    PGQRS_RETURN_IF_ERROR(c.First());
    int64_t max = 0;
    while (c.Valid()) {
      max = c.rowid();
      PGQRS_ASSIGN_OR_RETURN(std::vector<Value> v, DecodeRecord(c.payload()));
      if (!v.empty() && v[0].type() == Value::Type::kText && Lower(v[0].bytes()) == name) {
        rowid = c.rowid();
        break;
      }
      PGQRS_RETURN_IF_ERROR(c.Next());
    }
    if (rowid == 0) rowid = max + 1;
    std::string rec;
    EncodeRecord({Value::Text(t.def.name), Value::Integer(*t.seq)}, &rec);
    PGQRS_RETURN_IF_ERROR(seq.Insert(rowid, rec));
    t.seq_dirty = false;
  }
  return absl::OkStatus();
}

absl::Status Transaction::Commit() {
  if (done_) return absl::FailedPreconditionError("transaction has ended");
  if (kind_ == Kind::kRead) {
    End();
    return absl::OkStatus();
  }
  if (kind_ == Kind::kConcurrent) return CommitConcurrent();
  if (!broken_.ok()) {
    absl::Status s = broken_;
    Rollback();
    return s;
  }
  Pager* pager = db_->pager_.get();
  absl::Status s = FlushSequences();
  if (!s.ok()) {
    Rollback();
    return s;
  }
  if (schema_changed_) pager->mutable_header()->schema_cookie++;
  absl::StatusOr<uint64_t> lsn = schema_changed_ ? CommitSchemaChange() : pager->Commit();
  if (!lsn.ok()) {
    // The pager rolled back; the in-memory catalog must follow.
    if (schema_changed_ || IsIoError(lsn.status()))
      db_->LoadSchema().IgnoreError();
    else
      db_->LoadSequences().IgnoreError();
    End();
    return lsn.status();
  }
  // Stamped before the slot is released: the next commit's validation sees these rows.
  if (db_->options_.mvcc && *lsn != 0) db_->write_stamps_.Stamp(written_, *lsn, pager);
  // The checkpoint this commit may have made due runs in the next Begin: once the frames are
  // durable, Commit reports the commit, never a checkpoint failure.
  End();
  s = pager->SyncTo(*lsn);
  if (!s.ok()) {
    absl::MutexLock l(&db_->mu_);
    db_->fatal_ = s;
  }
  return s;
}

absl::StatusOr<uint64_t> Transaction::CommitSchemaChange() {
  // Read transactions pin the newest durable commit together with the catalog under mu_
  // (BeginRead), so the new catalog is published once this commit is durable. Schema changes
  // are rare: new read transactions may wait for their fsync.
  absl::MutexLock l(&db_->mu_);
  absl::StatusOr<uint64_t> lsn = db_->pager_->Commit();
  if (!lsn.ok()) return lsn;
  absl::Status synced = db_->pager_->SyncTo(*lsn);
  if (!synced.ok()) {
    db_->fatal_ = synced;
    return lsn;  // Commit's SyncTo reports it again
  }
  db_->PublishCatalogLocked();
  return lsn;
}

void Transaction::Rollback() {
  if (done_) return;
  if (kind_ != Kind::kExclusive) {
    End();
    return;
  }
  db_->pager_->Rollback();
  bool seq_dirty = false;
  for (const auto& [name, t] : db_->catalog_.tables) seq_dirty |= t.seq_dirty;
  absl::Status s = absl::OkStatus();
  if (schema_changed_ || !broken_.ok()) {
    s = db_->LoadSchema();
  } else if (seq_dirty) {
    s = db_->LoadSequences();
  }
  if (!s.ok()) {
    absl::MutexLock l(&db_->mu_);
    db_->fatal_ = s;
  }
  End();
}

}  // namespace pgqrs::engine
