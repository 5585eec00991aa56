#include "engine/db/database.h"

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/btree/btree.h"
#include "engine/pager/pager.h"
#include "engine/pager/private_pages.h"
#include "engine/pager/snapshot_pages.h"
#include "spdlog/spdlog.h"

namespace pgqrs::engine {
namespace {

std::string Lower(std::string_view s) { return absl::AsciiStrToLower(std::string(s)); }

std::string TextOf(const std::vector<Value>& v, size_t i) {
  if (i >= v.size() || (v[i].type() != Value::Type::kText && v[i].type() != Value::Type::kBlob)) {
    return "";
  }
  return v[i].bytes();
}

// The payload that marks a write conflict (IsWriteConflict).
constexpr char kWriteConflictPayload[] = "pgqrs.engine/write-conflict";

}  // namespace

absl::Status WriteConflictError(std::string_view detail) {
  absl::Status s = absl::AbortedError(absl::StrCat("write-write conflict: ", std::string(detail)));
  s.SetPayload(kWriteConflictPayload, absl::Cord("1"));
  return s;
}

bool IsWriteConflict(const absl::Status& status) {
  return absl::IsAborted(status) && status.GetPayload(kWriteConflictPayload).has_value();
}

absl::StatusOr<std::unique_ptr<Database>> Database::Open(const std::string& path,
                                                         const DatabaseOptions& options) {
  std::unique_ptr<Database> db(new Database());
  db->path_ = path;
  db->options_ = options;
  if (options.backend != nullptr) {
    db->backend_ = options.backend;
  } else {
    PGQRS_ASSIGN_OR_RETURN(db->backend_, CreateIoBackend(options.io));
  }
  PagerOptions po;
  po.cache_pages = options.cache_pages;
  po.wal_checkpoint_pages = options.wal_checkpoint_pages;
  po.read_only = options.read_only;
  po.checkpoint_on_close = options.checkpoint_on_close;
  po.seed = options.seed;
  po.key = options.key;
  po.key_id = options.key_id;
  po.wal_stats = &db->wal_stats_;
  PGQRS_ASSIGN_OR_RETURN(db->pager_, Pager::Open(db->backend_, path, po));
  PGQRS_RETURN_IF_ERROR(db->LoadSchema());
  absl::MutexLock l(&db->mu_);
  db->PublishCatalogLocked();
  return db;
}

Database::~Database() {
  // Errors cannot be reported from a destructor; callers wanting them call Close() first.
  Close().IgnoreError();
}

absl::Status Database::Close() {
  absl::MutexLock t(&txn_mu_);
  {
    absl::MutexLock l(&mu_);
    if (closed_) return absl::OkStatus();
    closed_ = true;
  }
  if (pager_ == nullptr) return absl::OkStatus();
  absl::Status s = pager_->Close();
  pager_.reset();
  return s;
}

absl::Status Database::LoadSchema() {
  catalog_.tables.clear();
  catalog_.indexes.clear();
  sequence_root_ = 0;
  BTree schema(pager_.get(), 1, /*is_table=*/true);
  Cursor c(&schema);
  std::vector<std::vector<Value>> rows;
  PGQRS_RETURN_IF_ERROR(c.First());
  while (c.Valid()) {
    PGQRS_ASSIGN_OR_RETURN(std::vector<Value> v, DecodeRecord(c.payload()));
    rows.push_back(std::move(v));
    if (rows.size() > 100000) return absl::DataLossError("sqlite_schema too large");
    PGQRS_RETURN_IF_ERROR(c.Next());
  }
  std::vector<std::string> untrusted_tables;
  for (const std::vector<Value>& v : rows) {
    std::string type = TextOf(v, 0), name = TextOf(v, 1), tbl = TextOf(v, 2), sql = TextOf(v, 4);
    uint32_t root = 0;
    if (v.size() > 3 && v[3].type() == Value::Type::kInteger && v[3].integer() > 0 &&
        v[3].integer() <= pager_->page_count()) {
      root = static_cast<uint32_t>(v[3].integer());
    }
    if (type == "table") {
      if (Lower(name) == "sqlite_sequence") {
        sequence_root_ = root;
        continue;
      }
      TableInfo info;
      info.def.name = name;
      info.root = root;
      absl::StatusOr<TableDef> def = ParseCreateTable(sql);
      if (def.ok() && root != 0) {
        info.def = std::move(*def);
        info.def.name = name;
      } else {
        info.writable = false;  // kept only so the name is reserved
      }
      catalog_.tables[Lower(name)] = std::move(info);
    } else if (type == "index") {
      absl::StatusOr<IndexDef> def = ParseCreateIndex(sql);
      if (!def.ok() || root == 0) {
        untrusted_tables.push_back(Lower(tbl));
        continue;
      }
      IndexInfo info;
      info.def = std::move(*def);
      info.def.name = name;
      info.root = root;
      catalog_.indexes[Lower(name)] = std::move(info);
    } else if (type == "trigger") {
      untrusted_tables.push_back(Lower(tbl));
    }
  }
  for (const std::string& t : untrusted_tables) {
    auto it = catalog_.tables.find(t);
    if (it != catalog_.tables.end()) it->second.writable = false;
  }
  AttachIndexes();
  return LoadSequences();
}

// Links each parsed index to its table; an index that does not fit its table makes the table
// read-only instead of failing the open.
void Database::AttachIndexes() {
  for (auto it = catalog_.indexes.begin(); it != catalog_.indexes.end();) {
    IndexInfo& ix = it->second;
    auto t = catalog_.tables.find(Lower(ix.def.table));
    bool ok = t != catalog_.tables.end() && !t->second.def.columns.empty() &&
              ValidateIndexDef(ix.def, t->second.def).ok();
    if (ok) {
      for (const IndexColumn& c : ix.def.columns) {
        ix.cols.push_back(t->second.def.ColumnIndex(c.name));
        ix.desc.push_back(c.desc);
      }
      if (ix.def.where != PartialPredicate::kNone) {
        ix.where_col = t->second.def.ColumnIndex(ix.def.where_column);
      }
      t->second.indexes.push_back(it->first);
      ++it;
    } else {
      if (t != catalog_.tables.end()) t->second.writable = false;
      it = catalog_.indexes.erase(it);
    }
  }
}

absl::Status Database::LoadSequences() {
  for (auto& [name, t] : catalog_.tables) {
    t.seq.reset();
    t.seq_dirty = false;
  }
  if (sequence_root_ == 0) return absl::OkStatus();
  BTree seq(pager_.get(), sequence_root_, true);
  Cursor c(&seq);
  PGQRS_RETURN_IF_ERROR(c.First());
  while (c.Valid()) {
    PGQRS_ASSIGN_OR_RETURN(std::vector<Value> v, DecodeRecord(c.payload()));
    auto it = catalog_.tables.find(Lower(TextOf(v, 0)));
    if (it != catalog_.tables.end() && v.size() > 1 && v[1].type() == Value::Type::kInteger) {
      it->second.seq = v[1].integer();
    }
    PGQRS_RETURN_IF_ERROR(c.Next());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Transaction>> Database::Begin() {
  txn_mu_.Lock();
  absl::Status fatal;
  {
    absl::MutexLock l(&mu_);
    fatal = closed_ ? absl::FailedPreconditionError("database is closed") : fatal_;
  }
  if (!fatal.ok()) {
    txn_mu_.Unlock();
    return fatal;
  }
  CheckpointIfDue();
  pager_->Begin();
  return std::unique_ptr<Transaction>(new Transaction(this));
}

absl::StatusOr<std::unique_ptr<Transaction>> Database::BeginConcurrent() {
  if (!options_.mvcc) return Begin();
  // Under mu_, the pinned pages and the catalog are of the same commit (as in BeginRead).
  absl::MutexLock l(&mu_);
  if (closed_) return absl::FailedPreconditionError("database is closed");
  if (!fatal_.ok()) return fatal_;
  auto pages = std::make_unique<PrivatePages>(write_stamps_.PinSnapshot(pager_.get()));
  return std::unique_ptr<Transaction>(
      new Transaction(this, std::move(pages), std::make_unique<Catalog>(*published_catalog_)));
}

absl::StatusOr<std::unique_ptr<Transaction>> Database::BeginRead() {
  // Under mu_, the pinned pages and the catalog are of the same commit (a schema-changing
  // commit publishes both under mu_).
  absl::MutexLock l(&mu_);
  if (closed_) return absl::FailedPreconditionError("database is closed");
  if (!fatal_.ok()) return fatal_;
  return std::unique_ptr<Transaction>(
      new Transaction(this, std::make_unique<SnapshotPages>(pager_.get()), published_catalog_));
}

absl::Status Database::ConflictOnceDurable(uint64_t lsn, std::string_view detail) {
  PGQRS_RETURN_IF_ERROR(pager_->SyncTo(lsn));
  return WriteConflictError(detail);
}

void Database::PublishCatalogLocked() {
  published_catalog_ = std::make_shared<const Catalog>(catalog_);
}

void Database::CheckpointIfDue() {
  absl::Status s = pager_->MaybeCheckpoint();
  absl::MutexLock l(&mu_);
  if (!s.ok() && checkpoint_error_.ok()) {
    spdlog::warn("engine: checkpoint of {} failed, retrying at the next transaction: {}", path_,
                 s.ToString());
  }
  checkpoint_error_ = s;
}

absl::Status Database::Checkpoint() {
  absl::MutexLock t(&txn_mu_);
  if (closed_) return absl::FailedPreconditionError("database is closed");
  return pager_->Checkpoint();
}

std::string Database::backend_name() const { return backend_->name(); }

std::vector<TableDef> Database::Tables() {
  absl::MutexLock t(&txn_mu_);
  std::vector<TableDef> out;
  for (const auto& [name, t] : catalog_.tables) {
    if (!t.def.columns.empty()) out.push_back(t.def);
  }
  return out;
}

std::vector<IndexDef> Database::Indexes() {
  absl::MutexLock t(&txn_mu_);
  std::vector<IndexDef> out;
  for (const auto& [name, ix] : catalog_.indexes) out.push_back(ix.def);
  return out;
}

absl::Status Database::checkpoint_error() {
  absl::MutexLock l(&mu_);
  return checkpoint_error_;
}

int64_t Database::wal_sync_calls() {
  absl::MutexLock t(&txn_mu_);
  return pager_ ? pager_->wal_sync_calls() : 0;
}

uint32_t Database::wal_frames() {
  absl::MutexLock t(&txn_mu_);
  return pager_ ? pager_->wal_frames() : 0;
}

size_t Database::cached_pages() {
  absl::MutexLock t(&txn_mu_);
  return pager_ ? pager_->cached_pages() : 0;
}

}  // namespace pgqrs::engine
