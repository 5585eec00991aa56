#include "engine/btree/btree.h"

#include <cstring>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/format/varint.h"

namespace pgqrs::engine {
namespace {

constexpr size_t kMaxDepth = 40;
constexpr size_t kTypicalDepth = 8;  // path capacity reserved up front

absl::Status TooDeep(uint32_t pgno) {
  return absl::DataLossError(absl::StrCat("page ", pgno, ": b-tree too deep (cycle?)"));
}

}  // namespace

BTree::BTree(PageWriter* writer, uint32_t root, bool is_table, std::vector<bool> desc)
    : pages_(writer), writer_(writer), root_(root), is_table_(is_table), desc_(std::move(desc)) {}

BTree::BTree(PageSource* pages, uint32_t root, bool is_table, std::vector<bool> desc)
    : pages_(pages), writer_(nullptr), root_(root), is_table_(is_table), desc_(std::move(desc)) {}

absl::Status BTree::CheckWritable() const {
  if (writer_ == nullptr) return absl::FailedPreconditionError("read-only b-tree");
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> BTree::Create(PageWriter* writer, bool is_table) {
  PGQRS_ASSIGN_OR_RETURN(PageRef page, writer->Allocate());
  Node n;
  n.type = LeafTypeOf(is_table);
  EncodeNode(n, page->pgno, writer->usable_size(), page->data.get());
  return page->pgno;
}

absl::StatusOr<PageView> BTree::View(const PageRef& page) {
  PGQRS_ASSIGN_OR_RETURN(PageView v,
                         PageView::Parse(page->data.get(), page->pgno, pages_->usable_size()));
  if (IsTable(v.type()) != is_table_) {
    return absl::DataLossError(absl::StrCat("page ", page->pgno, ": wrong b-tree kind"));
  }
  return v;
}

absl::Status BTree::Payload(const uint8_t* page, const CellInfo& cell, std::string* scratch,
                            std::string_view* out) {
  const char* local = reinterpret_cast<const char*>(page + cell.local_offset);
  if (cell.overflow_page == 0) {
    *out = std::string_view(local, cell.local_size);
    return absl::OkStatus();
  }
  const uint32_t per_page = pages_->usable_size() - 4;
  uint64_t remaining = cell.payload_size - cell.local_size;
  uint64_t pages = (remaining + per_page - 1) / per_page;
  if (pages >= pages_->page_count()) return absl::DataLossError("overflow chain too long");
  scratch->assign(local, cell.local_size);
  uint32_t next = cell.overflow_page;
  for (uint64_t i = 0; i < pages; ++i) {
    if (next == 0) return absl::DataLossError("overflow chain ends early");
    PGQRS_ASSIGN_OR_RETURN(PageRef p, pages_->Get(next));
    uint32_t take = static_cast<uint32_t>(std::min<uint64_t>(per_page, remaining));
    scratch->append(reinterpret_cast<const char*>(p->data.get() + 4), take);
    remaining -= take;
    next = Get32(p->data.get());
  }
  *out = *scratch;
  return absl::OkStatus();
}

absl::StatusOr<std::string> BTree::BuildCell(PageType type, const std::string& prefix,
                                             std::string_view payload) {
  const uint32_t usable = pages_->usable_size();
  uint32_t local = LocalPayloadSize(type, usable, payload.size());
  std::string cell = prefix;
  cell.append(payload.data(), local);
  if (local == payload.size()) return cell;
  const uint32_t per_page = usable - 4;
  size_t rest = payload.size() - local;
  std::vector<PageRef> pages;
  for (size_t done = 0; done < rest; done += per_page) {
    PGQRS_ASSIGN_OR_RETURN(PageRef p, writer_->Allocate());
    pages.push_back(std::move(p));
  }
  size_t pos = local;
  for (size_t i = 0; i < pages.size(); ++i) {
    uint8_t* d = pages[i]->data.get();
    Put32(d, i + 1 < pages.size() ? pages[i + 1]->pgno : 0);
    size_t take = std::min<size_t>(per_page, payload.size() - pos);
    std::memcpy(d + 4, payload.data() + pos, take);
    pos += take;
  }
  uint8_t ptr[4];
  Put32(ptr, pages[0]->pgno);
  cell.append(reinterpret_cast<char*>(ptr), 4);
  return cell;
}

absl::Status BTree::FreeOverflow(const std::string& cell, PageType type) {
  if (type == PageType::kTableInterior) return absl::OkStatus();
  const uint8_t* p = reinterpret_cast<const uint8_t*>(cell.data());
  size_t pos = type == PageType::kIndexInterior ? 4 : 0;
  uint64_t size;
  int k = GetVarint(p + pos, cell.size() - pos, &size);
  if (k == 0) return absl::DataLossError("cell: bad payload size");
  const uint32_t usable = pages_->usable_size();
  uint32_t local = LocalPayloadSize(type, usable, size);
  if (local >= size) return absl::OkStatus();
  uint32_t next = Get32(p + cell.size() - 4);
  uint64_t pages = (size - local + usable - 5) / (usable - 4);
  for (uint64_t i = 0; i < pages && next != 0; ++i) {
    PGQRS_ASSIGN_OR_RETURN(PageRef page, pages_->Get(next));
    uint32_t after = Get32(page->data.get());
    PGQRS_RETURN_IF_ERROR(writer_->Free(next));
    next = after;
  }
  return absl::OkStatus();
}

absl::StatusOr<int> BTree::RowidLowerBound(const PageView& view, int64_t rowid, bool* exact) {
  int lo = 0, hi = view.cell_count();
  *exact = false;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    PGQRS_ASSIGN_OR_RETURN(CellInfo c, view.Cell(mid));
    if (c.rowid < rowid) {
      lo = mid + 1;
    } else {
      if (c.rowid == rowid) *exact = true;
      hi = mid;
    }
  }
  if (*exact && view.is_leaf()) {
    PGQRS_ASSIGN_OR_RETURN(CellInfo c, view.Cell(lo));
    *exact = c.rowid == rowid;
  }
  return lo;
}

absl::StatusOr<int> BTree::CompareCell(const PageView& view, int i, const std::vector<Value>& key) {
  PGQRS_ASSIGN_OR_RETURN(CellInfo c, view.Cell(i));
  std::string scratch;
  std::string_view rec;
  PGQRS_RETURN_IF_ERROR(Payload(view.data(), c, &scratch, &rec));
  return CompareRecordToKey(rec, key, desc_);
}

absl::StatusOr<int> BTree::LowerBound(const PageView& view, const std::vector<Value>& key,
                                      bool strict, bool* exact) {
  int lo = 0, hi = view.cell_count();
  *exact = false;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    PGQRS_ASSIGN_OR_RETURN(int c, CompareCell(view, mid, key));
    if (c == 0) *exact = true;
    if (c < 0 || (strict && c == 0)) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (*exact) {
    *exact = false;
    if (lo < view.cell_count()) {
      PGQRS_ASSIGN_OR_RETURN(int c, CompareCell(view, lo, key));
      *exact = c == 0;
    }
  }
  return lo;
}

absl::StatusOr<std::optional<std::string>> BTree::Find(int64_t rowid) {
  uint32_t pgno = root_;
  for (size_t depth = 0;; ++depth) {
    if (depth > kMaxDepth) return TooDeep(pgno);
    PGQRS_ASSIGN_OR_RETURN(PageRef page, pages_->Get(pgno));
    PGQRS_ASSIGN_OR_RETURN(PageView view, View(page));
    bool exact;
    PGQRS_ASSIGN_OR_RETURN(int i, RowidLowerBound(view, rowid, &exact));
    if (view.is_leaf()) {
      if (!exact) return std::optional<std::string>();
      PGQRS_ASSIGN_OR_RETURN(CellInfo c, view.Cell(i));
      std::string scratch;
      std::string_view out;
      PGQRS_RETURN_IF_ERROR(Payload(page->data.get(), c, &scratch, &out));
      return std::optional<std::string>(std::string(out));
    }
    PGQRS_ASSIGN_OR_RETURN(pgno, view.Child(i));
  }
}

absl::StatusOr<std::optional<int64_t>> BTree::MaxRowid() {
  uint32_t pgno = root_;
  for (size_t depth = 0;; ++depth) {
    if (depth > kMaxDepth) return TooDeep(pgno);
    PGQRS_ASSIGN_OR_RETURN(PageRef page, pages_->Get(pgno));
    PGQRS_ASSIGN_OR_RETURN(PageView view, View(page));
    if (view.is_leaf()) {
      if (view.cell_count() == 0) return std::optional<int64_t>();
      PGQRS_ASSIGN_OR_RETURN(CellInfo c, view.Cell(view.cell_count() - 1));
      return std::optional<int64_t>(c.rowid);
    }
    pgno = view.right_child();
  }
}

absl::StatusOr<BTree::Descent> BTree::Descend(Search search, bool stop_at_interior_match) {
  Descent d;
  d.path.reserve(kTypicalDepth);
  uint32_t pgno = root_;
  for (size_t depth = 0;; ++depth) {
    if (depth > kMaxDepth) return TooDeep(pgno);
    PGQRS_ASSIGN_OR_RETURN(d.page, pages_->Get(pgno));
    PGQRS_ASSIGN_OR_RETURN(d.view, View(d.page));
    PGQRS_ASSIGN_OR_RETURN(int i, search(d.view, &d.found));
    d.path.push_back({pgno, i});
    if (d.view.is_leaf() || (d.found && stop_at_interior_match)) return d;
    d.found = false;
    d.rightmost &= i == d.view.cell_count();
    PGQRS_ASSIGN_OR_RETURN(pgno, d.view.Child(i));
  }
}

absl::StatusOr<BTree::Descent> BTree::DescendToRowid(int64_t rowid) {
  return Descend([&](const PageView& v, bool* exact) { return RowidLowerBound(v, rowid, exact); },
                 /*stop_at_interior_match=*/false);
}

absl::StatusOr<BTree::Descent> BTree::DescendToKey(const std::vector<Value>& key) {
  return Descend(
      [&](const PageView& v, bool* exact) { return LowerBound(v, key, /*strict=*/false, exact); },
      /*stop_at_interior_match=*/true);
}

BTree::Change BTree::ChangeAt(const Descent& d, Node node) {
  Change c;
  c.path.reserve(kTypicalDepth);
  for (const Step& s : d.path) c.path.push_back({s.pgno, s.idx, std::nullopt});
  c.path.back().pending = std::move(node);
  return c;
}

absl::Status BTree::Insert(int64_t rowid, std::string_view payload) {
  PGQRS_RETURN_IF_ERROR(CheckWritable());
  PGQRS_ASSIGN_OR_RETURN(Descent d, DescendToRowid(rowid));
  uint8_t hdr[18];
  int n = PutVarint(hdr, payload.size());
  n += PutVarint(hdr + n, static_cast<uint64_t>(rowid));
  PGQRS_ASSIGN_OR_RETURN(
      std::string cell,
      BuildCell(PageType::kTableLeaf, std::string(reinterpret_cast<char*>(hdr), n), payload));
  if (d.found) return ReplaceLeafCell(d, std::move(cell));
  return InsertLeafCell(d, std::move(cell));
}

absl::StatusOr<bool> BTree::Delete(int64_t rowid) {
  PGQRS_RETURN_IF_ERROR(CheckWritable());
  PGQRS_ASSIGN_OR_RETURN(Descent d, DescendToRowid(rowid));
  if (!d.found) return false;
  PGQRS_RETURN_IF_ERROR(RemoveLeafCell(d));
  return true;
}

absl::Status BTree::InsertKey(std::string_view record) {
  PGQRS_ASSIGN_OR_RETURN(std::vector<Value> key, DecodeRecord(record));
  return InsertKey(record, key);
}

absl::Status BTree::InsertKey(std::string_view record, const std::vector<Value>& key) {
  PGQRS_RETURN_IF_ERROR(CheckWritable());
  PGQRS_ASSIGN_OR_RETURN(Descent d, DescendToKey(key));
  if (d.found) return absl::AlreadyExistsError("index entry already exists");
  uint8_t hdr[9];
  int n = PutVarint(hdr, record.size());
  PGQRS_ASSIGN_OR_RETURN(
      std::string cell,
      BuildCell(PageType::kIndexLeaf, std::string(reinterpret_cast<char*>(hdr), n), record));
  return InsertLeafCell(d, std::move(cell));
}

absl::StatusOr<bool> BTree::DeleteKey(const std::vector<Value>& key) {
  PGQRS_RETURN_IF_ERROR(CheckWritable());
  PGQRS_ASSIGN_OR_RETURN(Descent d, DescendToKey(key));
  if (!d.found) return false;
  PGQRS_RETURN_IF_ERROR(d.view.is_leaf() ? RemoveLeafCell(d) : RemoveFromInterior(d));
  return true;
}

absl::Status BTree::InsertLeafCell(const Descent& d, std::string cell) {
  const int i = d.path.back().idx;
  writer_->MarkDirty(d.page);
  if (TryInsertCell(d.page->data.get(), d.page->pgno, pages_->usable_size(), i, cell)) {
    return absl::OkStatus();
  }
  PGQRS_ASSIGN_OR_RETURN(Node node, DecodeNode(d.view));
  node.cells.insert(node.cells.begin() + i, std::move(cell));
  const bool append = d.rightmost && static_cast<size_t>(i) + 1 == node.cells.size();
  Change c = ChangeAt(d, std::move(node));
  c.append = append;
  return Apply(&c);
}

absl::Status BTree::ReplaceLeafCell(const Descent& d, std::string cell) {
  const int i = d.path.back().idx;
  PGQRS_ASSIGN_OR_RETURN(CellInfo old, d.view.Cell(i));
  if (old.overflow_page == 0 && old.size == cell.size()) {
    writer_->MarkDirty(d.page);
    std::memcpy(d.page->data.get() + d.view.CellOffset(i), cell.data(), cell.size());
    return absl::OkStatus();
  }
  // A row that changes size but still fits stays on its page: no decode and rewrite of the
  // whole page. A page left under a quarter full is fine here (deletions merge such pages).
  if (old.overflow_page == 0) {
    writer_->MarkDirty(d.page);
    if (TryReplaceCell(d.page->data.get(), d.page->pgno, pages_->usable_size(), i, old.size,
                       cell)) {
      return absl::OkStatus();
    }
  }
  PGQRS_ASSIGN_OR_RETURN(Node node, DecodeNode(d.view));
  PGQRS_RETURN_IF_ERROR(FreeOverflow(node.cells[i], node.type));
  node.cells[i] = std::move(cell);
  Change c = ChangeAt(d, std::move(node));
  return Apply(&c);
}

absl::Status BTree::RemoveLeafCell(const Descent& d) {
  const int i = d.path.back().idx;
  PGQRS_ASSIGN_OR_RETURN(bool done, RemoveInPlace(d.page, d.view, i, d.path.size() == 1));
  if (done) return absl::OkStatus();
  PGQRS_ASSIGN_OR_RETURN(Node node, DecodeNode(d.view));
  PGQRS_RETURN_IF_ERROR(FreeOverflow(node.cells[i], node.type));
  node.cells.erase(node.cells.begin() + i);
  Change c = ChangeAt(d, std::move(node));
  c.merge = true;
  return Apply(&c);
}

absl::StatusOr<bool> BTree::RemoveInPlace(const PageRef& page, const PageView& view, int i,
                                          bool is_root) {
  PGQRS_ASSIGN_OR_RETURN(CellInfo c, view.Cell(i));
  const uint32_t cap = pages_->usable_size() - BtreeHeaderOffset(page->pgno);
  const uint8_t* h = page->data.get() + BtreeHeaderOffset(page->pgno);
  uint32_t content = Get16(h + 5);
  if (content == 0) content = 65536;
  if (content > pages_->usable_size()) return false;
  // Bytes in use after the removal; below a quarter the page must be merged instead.
  uint32_t used = PageHeaderSize(view.type()) + 2 * (view.cell_count() - 1) +
                  (pages_->usable_size() - content) - c.size;
  if (!is_root && used < cap / 4) return false;
  std::string cell(reinterpret_cast<const char*>(page->data.get() + view.CellOffset(i)), c.size);
  writer_->MarkDirty(page);
  if (!TryRemoveCell(page->data.get(), page->pgno, pages_->usable_size(), i, c.size)) {
    return false;
  }
  PGQRS_RETURN_IF_ERROR(FreeOverflow(cell, view.type()));
  return true;
}

absl::Status BTree::RemoveFromInterior(const Descent& d) {
  const int i = d.path.back().idx;
  PGQRS_ASSIGN_OR_RETURN(Node interior, DecodeNode(d.view));
  const std::string victim = std::move(interior.cells[i]);
  // The predecessor is the last entry of the rightmost leaf of the victim's left subtree.
  std::vector<Step> below;
  PGQRS_ASSIGN_OR_RETURN(uint32_t leaf_pgno,
                         RightmostLeaf(CellLeftChild(victim), d.path.size(), &below));
  PGQRS_ASSIGN_OR_RETURN(Node leaf, LoadNode(leaf_pgno));
  if (leaf.cells.empty()) return absl::DataLossError("empty index leaf");
  std::string predecessor = std::move(leaf.cells.back());
  leaf.cells.pop_back();
  PGQRS_RETURN_IF_ERROR(FreeOverflow(victim, PageType::kIndexInterior));
  interior.cells[i] = victim.substr(0, 4) + predecessor;
  // Both the interior page and the leaf are pending: rebalancing settles the leaf first and
  // consumes the interior's new content if a split or merge below reaches it.
  Change c = ChangeAt(d, std::move(interior));
  c.merge = true;
  for (const Step& s : below) c.path.push_back({s.pgno, s.idx, std::nullopt});
  c.path.push_back({leaf_pgno, static_cast<int>(leaf.cells.size()), std::move(leaf)});
  return Apply(&c);
}

absl::StatusOr<uint32_t> BTree::RightmostLeaf(uint32_t pgno, size_t depth,
                                              std::vector<Step>* steps) {
  for (;; ++depth) {
    if (depth > kMaxDepth) return TooDeep(pgno);
    PGQRS_ASSIGN_OR_RETURN(PageRef page, pages_->Get(pgno));
    PGQRS_ASSIGN_OR_RETURN(PageView view, View(page));
    if (view.is_leaf()) return pgno;
    steps->push_back({pgno, view.cell_count()});
    pgno = view.right_child();
  }
}

absl::StatusOr<int64_t> BTree::Count() {
  std::unordered_set<uint32_t> seen;
  std::vector<std::pair<uint32_t, size_t>> todo = {{root_, 0}};
  int64_t total = 0;
  while (!todo.empty()) {
    auto [pgno, depth] = todo.back();
    todo.pop_back();
    if (depth > kMaxDepth) return TooDeep(pgno);
    if (!seen.insert(pgno).second) {
      return absl::DataLossError(absl::StrCat("page ", pgno, " referenced twice"));
    }
    PGQRS_ASSIGN_OR_RETURN(PageRef page, pages_->Get(pgno));
    PGQRS_ASSIGN_OR_RETURN(PageView view, View(page));
    if (view.is_leaf() || !is_table_) total += view.cell_count();
    if (view.is_leaf()) continue;
    for (int i = 0; i <= view.cell_count(); ++i) {
      PGQRS_ASSIGN_OR_RETURN(uint32_t child, view.Child(i));
      todo.emplace_back(child, depth + 1);
    }
  }
  return total;
}

absl::Status BTree::Drop() {
  PGQRS_RETURN_IF_ERROR(CheckWritable());
  std::vector<std::pair<uint32_t, size_t>> todo = {{root_, 0}};
  std::unordered_set<uint32_t> seen;
  while (!todo.empty()) {
    auto [pgno, depth] = todo.back();
    todo.pop_back();
    if (depth > kMaxDepth) return TooDeep(pgno);
    if (!seen.insert(pgno).second) return absl::DataLossError("page referenced twice");
    PGQRS_ASSIGN_OR_RETURN(PageRef page, pages_->Get(pgno));
    PGQRS_ASSIGN_OR_RETURN(PageView view, View(page));
    PGQRS_ASSIGN_OR_RETURN(Node node, DecodeNode(view));
    for (const std::string& cell : node.cells) {
      PGQRS_RETURN_IF_ERROR(FreeOverflow(cell, node.type));
    }
    if (!view.is_leaf()) {
      for (int i = 0; i <= view.cell_count(); ++i) {
        PGQRS_ASSIGN_OR_RETURN(uint32_t child, view.Child(i));
        todo.emplace_back(child, depth + 1);
      }
    }
    page.reset();
    if (pgno != 1) PGQRS_RETURN_IF_ERROR(writer_->Free(pgno));
  }
  return absl::OkStatus();
}

}  // namespace pgqrs::engine
