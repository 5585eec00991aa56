#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/btree/btree.h"
#include "engine/db/database.h"
#include "engine/pager/pager.h"

namespace pgqrs::engine {
namespace {

// Compares `key` with the bound prefix `bound`, honouring DESC columns.
int CompareToBound(const std::vector<Value>& key, const std::vector<Value>& bound,
                   const std::vector<bool>& desc) {
  for (size_t i = 0; i < bound.size() && i < key.size(); ++i) {
    int c = CompareValues(key[i], bound[i]);
    if (c != 0) return (i < desc.size() && desc[i]) ? -c : c;
  }
  return 0;
}

}  // namespace

Iterator::~Iterator() = default;

absl::Status Iterator::Load() {
  row_.reset();
  valid_ = cursor_->Valid();
  if (!valid_) return absl::OkStatus();
  if (!index_) {
    rowid_ = cursor_->rowid();
    auto it = txn_->catalog_->tables.find(absl::AsciiStrToLower(table_));
    if (it == txn_->catalog_->tables.end()) return absl::NotFoundError("table dropped");
    PGQRS_ASSIGN_OR_RETURN(Row row, txn_->DecodeRow(it->second, rowid_, cursor_->payload()));
    row_ = std::move(row);
    return absl::OkStatus();
  }
  PGQRS_ASSIGN_OR_RETURN(key_, DecodeRecord(cursor_->payload()));
  if (key_.empty() || key_.back().type() != Value::Type::kInteger) {
    return absl::DataLossError("index entry without a rowid");
  }
  rowid_ = key_.back().integer();
  key_.pop_back();
  if (stop_) {
    int c = CompareToBound(key_, stop_->key, desc_);
    bool past = reverse_ ? (c < 0 || (c == 0 && !stop_->inclusive))
                         : (c > 0 || (c == 0 && !stop_->inclusive));
    if (past) valid_ = false;
  }
  return absl::OkStatus();
}

absl::Status Iterator::Next() {
  if (!valid_) return absl::OkStatus();
  if (txn_->done_) return absl::FailedPreconditionError("transaction has ended");
  PGQRS_RETURN_IF_ERROR(reverse_ ? cursor_->Prev() : cursor_->Next());
  return Load();
}

absl::StatusOr<Row> Iterator::row() {
  if (!valid_) return absl::FailedPreconditionError("iterator is not valid");
  if (row_) return *row_;
  PGQRS_ASSIGN_OR_RETURN(std::optional<Row> row, txn_->Get(table_, rowid_));
  if (!row) {
    return absl::DataLossError(absl::StrCat("index entry for missing row ", rowid_));
  }
  row_ = std::move(*row);
  return *row_;
}

absl::StatusOr<std::unique_ptr<Iterator>> Transaction::ScanTable(std::string_view table,
                                                                 bool reverse) {
  PGQRS_ASSIGN_OR_RETURN(const Database::TableInfo* t, ReadableTable(table));
  std::unique_ptr<Iterator> it(new Iterator());
  it->txn_ = this;
  it->table_ = t->def.name;
  it->reverse_ = reverse;
  it->tree_ = std::make_unique<BTree>(pages_, t->root, true);
  it->cursor_ = std::make_unique<Cursor>(it->tree_.get());
  PGQRS_RETURN_IF_ERROR(reverse ? it->cursor_->Last() : it->cursor_->First());
  PGQRS_RETURN_IF_ERROR(it->Load());
  return it;
}

absl::StatusOr<std::unique_ptr<Iterator>> Transaction::SeekTable(std::string_view table,
                                                                 int64_t first_rowid) {
  PGQRS_ASSIGN_OR_RETURN(const Database::TableInfo* t, ReadableTable(table));
  std::unique_ptr<Iterator> it(new Iterator());
  it->txn_ = this;
  it->table_ = t->def.name;
  it->tree_ = std::make_unique<BTree>(pages_, t->root, true);
  it->cursor_ = std::make_unique<Cursor>(it->tree_.get());
  PGQRS_RETURN_IF_ERROR(it->cursor_->SeekRowid(first_rowid));
  PGQRS_RETURN_IF_ERROR(it->Load());
  return it;
}

absl::StatusOr<std::unique_ptr<Iterator>> Transaction::ScanIndex(std::string_view index,
                                                                 const IndexRange& range) {
  if (done_) return absl::FailedPreconditionError("transaction has ended");
  auto ix = catalog_->indexes.find(absl::AsciiStrToLower(std::string(index)));
  if (ix == catalog_->indexes.end())
    return absl::NotFoundError(absl::StrCat("no index ", std::string(index)));
  PGQRS_ASSIGN_OR_RETURN(const Database::TableInfo* t, ReadableTable(ix->second.def.table));
  std::unique_ptr<Iterator> it(new Iterator());
  it->txn_ = this;
  it->table_ = t->def.name;
  it->index_ = true;
  it->reverse_ = range.reverse;
  it->desc_ = ix->second.desc;
  it->tree_ = std::make_unique<BTree>(pages_, ix->second.root, false, ix->second.desc);
  it->cursor_ = std::make_unique<Cursor>(it->tree_.get());
  Cursor* c = it->cursor_.get();
  if (!range.reverse) {
    it->stop_ = range.upper;
    if (range.lower) {
      PGQRS_RETURN_IF_ERROR(c->SeekGE(range.lower->key, !range.lower->inclusive));
    } else {
      PGQRS_RETURN_IF_ERROR(c->First());
    }
  } else {
    it->stop_ = range.lower;
    if (range.upper) {
      PGQRS_RETURN_IF_ERROR(c->SeekLE(range.upper->key, !range.upper->inclusive));
    } else {
      PGQRS_RETURN_IF_ERROR(c->Last());
    }
  }
  PGQRS_RETURN_IF_ERROR(it->Load());
  return it;
}

}  // namespace pgqrs::engine
