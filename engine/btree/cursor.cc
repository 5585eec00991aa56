#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/btree/btree.h"

namespace pgqrs::engine {
namespace {
constexpr size_t kMaxDepth = 40;
}  // namespace

absl::Status Cursor::Push(uint32_t pgno) {
  if (stack_.size() > kMaxDepth) {
    return absl::DataLossError(absl::StrCat("page ", pgno, ": b-tree too deep (cycle?)"));
  }
  PGQRS_ASSIGN_OR_RETURN(PageRef page, tree_->pages()->Get(pgno));
  PGQRS_ASSIGN_OR_RETURN(PageView view, tree_->View(page));
  stack_.push_back(Frame{std::move(page), view, 0});
  return absl::OkStatus();
}

absl::Status Cursor::DescendEdge(bool leftmost) {
  for (;;) {
    Frame& f = stack_.back();
    int n = f.view.cell_count();
    if (f.view.is_leaf()) {
      f.idx = leftmost ? 0 : n - 1;
      return absl::OkStatus();
    }
    f.idx = leftmost ? 0 : n;
    PGQRS_ASSIGN_OR_RETURN(uint32_t child, f.view.Child(f.idx));
    PGQRS_RETURN_IF_ERROR(Push(child));
  }
}

absl::Status Cursor::Load() {
  Frame& f = stack_.back();
  PGQRS_ASSIGN_OR_RETURN(CellInfo c, f.view.Cell(f.idx));
  std::string_view p;
  PGQRS_RETURN_IF_ERROR(tree_->Payload(f.page->data.get(), c, &scratch_, &p));
  rowid_ = c.rowid;
  payload_.assign(p.data(), p.size());
  valid_ = true;
  epoch_ = tree_->pages()->epoch();
  return absl::OkStatus();
}

// The current leaf position is exhausted: climb to the next entry in direction `forward`.
absl::Status Cursor::Settle() {
  Frame& f = stack_.back();
  if (!f.view.is_leaf() || (f.idx >= 0 && f.idx < f.view.cell_count())) return Load();
  return Reposition(f.idx >= 0);
}

absl::Status Cursor::Reposition(bool forward) {
  for (;;) {
    stack_.pop_back();
    if (stack_.empty()) {
      valid_ = false;
      return absl::OkStatus();
    }
    Frame& f = stack_.back();
    const int n = f.view.cell_count();
    if (forward) {
      if (f.idx >= n) continue;
      if (!tree_->is_table()) return Load();  // the entry after child f.idx is cell f.idx
      f.idx += 1;
    } else {
      if (f.idx <= 0) continue;
      f.idx -= 1;
      if (!tree_->is_table()) return Load();  // the entry before child f.idx+1 is cell f.idx
    }
    PGQRS_ASSIGN_OR_RETURN(uint32_t child, f.view.Child(f.idx));
    PGQRS_RETURN_IF_ERROR(Push(child));
    PGQRS_RETURN_IF_ERROR(DescendEdge(forward));
    Frame& leaf = stack_.back();
    if (leaf.idx >= 0 && leaf.idx < leaf.view.cell_count()) return Load();
  }
}

absl::Status Cursor::Step(bool forward) {
  Frame& top = stack_.back();
  if (!top.view.is_leaf()) {
    // At an interior index entry j: the next entry is the leftmost of child j+1, the previous
    // one the rightmost of child j.
    if (forward) top.idx += 1;
    PGQRS_ASSIGN_OR_RETURN(uint32_t child, top.view.Child(top.idx));
    PGQRS_RETURN_IF_ERROR(Push(child));
    PGQRS_RETURN_IF_ERROR(DescendEdge(forward));
  } else {
    top.idx += forward ? 1 : -1;
  }
  Frame& leaf = stack_.back();
  if (leaf.idx >= 0 && leaf.idx < leaf.view.cell_count()) return Load();
  return Reposition(forward);
}

absl::Status Cursor::First() {
  stack_.clear();
  valid_ = false;
  PGQRS_RETURN_IF_ERROR(Push(tree_->root()));
  PGQRS_RETURN_IF_ERROR(DescendEdge(true));
  return Settle();
}

absl::Status Cursor::Last() {
  stack_.clear();
  valid_ = false;
  PGQRS_RETURN_IF_ERROR(Push(tree_->root()));
  PGQRS_RETURN_IF_ERROR(DescendEdge(false));
  Frame& f = stack_.back();
  if (f.idx >= 0) return Load();
  return Reposition(false);
}

absl::Status Cursor::SeekRowid(int64_t rowid) {
  stack_.clear();
  valid_ = false;
  PGQRS_RETURN_IF_ERROR(Push(tree_->root()));
  for (;;) {
    Frame& f = stack_.back();
    bool exact;
    PGQRS_ASSIGN_OR_RETURN(f.idx, tree_->RowidLowerBound(f.view, rowid, &exact));
    if (f.view.is_leaf()) break;
    PGQRS_ASSIGN_OR_RETURN(uint32_t child, f.view.Child(f.idx));
    PGQRS_RETURN_IF_ERROR(Push(child));
  }
  return Settle();
}

absl::Status Cursor::SeekGE(const std::vector<Value>& key, bool strict) {
  stack_.clear();
  valid_ = false;
  PGQRS_RETURN_IF_ERROR(Push(tree_->root()));
  for (;;) {
    Frame& f = stack_.back();
    bool exact;
    PGQRS_ASSIGN_OR_RETURN(f.idx, tree_->LowerBound(f.view, key, strict, &exact));
    if (f.view.is_leaf()) break;
    PGQRS_ASSIGN_OR_RETURN(uint32_t child, f.view.Child(f.idx));
    PGQRS_RETURN_IF_ERROR(Push(child));
  }
  return Settle();
}

absl::Status Cursor::SeekLE(const std::vector<Value>& key, bool strict) {
  PGQRS_RETURN_IF_ERROR(SeekGE(key, !strict));
  if (!valid_) return Last();
  return Step(false);
}

absl::Status Cursor::Next() {
  if (!valid_) return absl::OkStatus();
  if (epoch_ != tree_->pages()->epoch()) {
    if (tree_->is_table()) {
      if (rowid_ == INT64_MAX) {
        valid_ = false;
        return absl::OkStatus();
      }
      return SeekRowid(rowid_ + 1);
    }
    PGQRS_ASSIGN_OR_RETURN(std::vector<Value> key, DecodeRecord(payload_));
    return SeekGE(key, /*strict=*/true);
  }
  int64_t prev_rowid = rowid_;
  std::string prev = is_table_check() ? std::string() : payload_;
  PGQRS_RETURN_IF_ERROR(Step(true));
  return CheckOrder(prev_rowid, prev, true);
}

absl::Status Cursor::Prev() {
  if (!valid_) return absl::OkStatus();
  if (epoch_ != tree_->pages()->epoch()) {
    if (tree_->is_table()) {
      PGQRS_RETURN_IF_ERROR(SeekRowid(rowid_));
      if (!valid_) return Last();
      return Step(false);
    }
    PGQRS_ASSIGN_OR_RETURN(std::vector<Value> key, DecodeRecord(payload_));
    return SeekLE(key, /*strict=*/true);
  }
  int64_t prev_rowid = rowid_;
  std::string prev = is_table_check() ? std::string() : payload_;
  PGQRS_RETURN_IF_ERROR(Step(false));
  return CheckOrder(prev_rowid, prev, false);
}

absl::Status Cursor::CheckOrder(int64_t prev_rowid, const std::string& prev, bool forward) {
  if (!valid_) return absl::OkStatus();
  if (tree_->is_table()) {
    if (forward ? rowid_ > prev_rowid : rowid_ < prev_rowid) return absl::OkStatus();
    return absl::DataLossError(absl::StrCat("rowid ", rowid_, " out of order"));
  }
  PGQRS_ASSIGN_OR_RETURN(std::vector<Value> key, DecodeRecord(prev));
  PGQRS_ASSIGN_OR_RETURN(int c, CompareRecordToKey(payload_, key, tree_->desc()));
  // Equal prefixes (c == 0) can only come from entries with fewer columns; treat as corrupt.
  if (forward ? c > 0 : c < 0) return absl::OkStatus();
  return absl::DataLossError("index entries out of order");
}

}  // namespace pgqrs::engine
