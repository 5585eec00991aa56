#include "engine/format/btree_page.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/format/varint.h"

namespace pgqrs::engine {

uint32_t MaxLocal(PageType type, uint32_t usable) {
  if (type == PageType::kTableLeaf) return usable - 35;
  return ((usable - 12) * 64 / 255) - 23;
}

uint32_t MinLocal(uint32_t usable) { return ((usable - 12) * 32 / 255) - 23; }

uint32_t LocalPayloadSize(PageType type, uint32_t usable, uint64_t payload) {
  uint32_t x = MaxLocal(type, usable);
  if (payload <= x) return static_cast<uint32_t>(payload);
  uint32_t m = MinLocal(usable);
  uint64_t k = m + ((payload - m) % (usable - 4));
  return k <= x ? static_cast<uint32_t>(k) : m;
}

absl::StatusOr<CellInfo> ParseCell(const uint8_t* page, uint32_t usable, PageType type,
                                   uint32_t off) {
  CellInfo c;
  if (off >= usable) return absl::DataLossError("cell offset out of range");
  uint32_t pos = off;
  auto fail = [&] { return absl::DataLossError(absl::StrCat("cell at ", off, " overruns page")); };
  if (!IsLeaf(type)) {
    if (pos + 4 > usable) return fail();
    c.left_child = (uint32_t{page[pos]} << 24) | (uint32_t{page[pos + 1]} << 16) |
                   (uint32_t{page[pos + 2]} << 8) | page[pos + 3];
    pos += 4;
  }
  uint64_t v;
  if (type == PageType::kTableInterior) {
    int k = GetVarint(page + pos, usable - pos, &v);
    if (k == 0) return fail();
    c.rowid = static_cast<int64_t>(v);
    c.size = pos + k - off;
    return c;
  }
  int k = GetVarint(page + pos, usable - pos, &v);
  if (k == 0) return fail();
  pos += k;
  if (v > 0x7fffffff) return absl::DataLossError("cell payload size too large");
  c.payload_size = v;
  if (type == PageType::kTableLeaf) {
    k = GetVarint(page + pos, usable - pos, &v);
    if (k == 0) return fail();
    c.rowid = static_cast<int64_t>(v);
    pos += k;
  }
  c.local_size = LocalPayloadSize(type, usable, c.payload_size);
  c.local_offset = pos;
  if (static_cast<uint64_t>(pos) + c.local_size > usable) return fail();
  pos += c.local_size;
  if (c.local_size < c.payload_size) {
    if (pos + 4 > usable) return fail();
    c.overflow_page = (uint32_t{page[pos]} << 24) | (uint32_t{page[pos + 1]} << 16) |
                      (uint32_t{page[pos + 2]} << 8) | page[pos + 3];
    if (c.overflow_page == 0) return absl::DataLossError("cell: missing overflow page");
    pos += 4;
  }
  c.size = pos - off;
  return c;
}

absl::StatusOr<PageView> PageView::Parse(const uint8_t* data, uint32_t pgno, uint32_t usable) {
  PageView v;
  v.data_ = data;
  v.usable_ = usable;
  v.hdr_ = BtreeHeaderOffset(pgno);
  uint8_t t = data[v.hdr_];
  if (t != 0x02 && t != 0x05 && t != 0x0a && t != 0x0d) {
    return absl::DataLossError(absl::StrCat("page ", pgno, ": bad page type ", int{t}));
  }
  v.type_ = static_cast<PageType>(t);
  const uint8_t* h = data + v.hdr_;
  v.ncells_ = Get16(h + 3);
  v.ptr_end_ = v.hdr_ + PageHeaderSize(v.type_) + 2 * v.ncells_;
  if (v.ptr_end_ > usable) {
    return absl::DataLossError(absl::StrCat("page ", pgno, ": too many cells"));
  }
  if (!v.is_leaf()) v.right_child_ = Get32(h + 8);
  // Cell pointers are validated lazily, in Cell().
  return v;
}

uint32_t PageView::CellOffset(int i) const {
  return Get16(data_ + hdr_ + PageHeaderSize(type_) + 2 * i);
}

absl::StatusOr<CellInfo> PageView::Cell(int i) const {
  uint32_t off = CellOffset(i);
  if (off < ptr_end_ || off + 4 > usable_) {
    return absl::DataLossError(absl::StrCat("cell ", i, " offset ", off, " out of range"));
  }
  return ParseCell(data_, usable_, type_, off);
}

absl::StatusOr<uint32_t> PageView::Child(int i) const {
  if (i == ncells_) return right_child_;
  absl::StatusOr<CellInfo> c = Cell(i);
  if (!c.ok()) return c.status();
  return c->left_child;
}

size_t Node::Bytes() const {
  size_t n = PageHeaderSize(type) + 2 * cells.size();
  for (const std::string& c : cells) n += c.size();
  return n;
}

absl::StatusOr<Node> DecodeNode(const PageView& view) {
  Node n;
  n.type = view.type();
  n.right_child = view.right_child();
  n.cells.reserve(view.cell_count());
  for (int i = 0; i < view.cell_count(); ++i) {
    absl::StatusOr<CellInfo> c = view.Cell(i);
    if (!c.ok()) return c.status();
    n.cells.emplace_back(reinterpret_cast<const char*>(view.data() + view.CellOffset(i)), c->size);
  }
  return n;
}

void EncodeNode(const Node& node, uint32_t pgno, uint32_t usable, uint8_t* page) {
  uint32_t hdr = BtreeHeaderOffset(pgno);
  uint32_t hsize = PageHeaderSize(node.type);
  uint32_t content = usable;
  uint8_t* ptrs = page + hdr + hsize;
  for (size_t i = 0; i < node.cells.size(); ++i) {
    content -= static_cast<uint32_t>(node.cells[i].size());
    std::memcpy(page + content, node.cells[i].data(), node.cells[i].size());
    Put16(ptrs + 2 * i, static_cast<uint16_t>(content));
  }
  uint32_t ptr_end = hdr + hsize + 2 * static_cast<uint32_t>(node.cells.size());
  std::memset(page + ptr_end, 0, content - ptr_end);
  uint8_t* h = page + hdr;
  h[0] = static_cast<uint8_t>(node.type);
  Put16(h + 1, 0);
  Put16(h + 3, static_cast<uint16_t>(node.cells.size()));
  Put16(h + 5, static_cast<uint16_t>(content == 65536 ? 0 : content));
  h[7] = 0;
  if (!IsLeaf(node.type)) Put32(h + 8, node.right_child);
}

bool TryInsertCell(uint8_t* page, uint32_t pgno, uint32_t usable, int idx,
                   const std::string& cell) {
  uint32_t hdr = BtreeHeaderOffset(pgno);
  uint8_t* h = page + hdr;
  uint32_t hsize = PageHeaderSize(static_cast<PageType>(h[0]));
  uint32_t n = Get16(h + 3);
  uint32_t content = Get16(h + 5);
  if (content == 0) content = 65536;
  uint32_t ptr_end = hdr + hsize + 2 * n;
  if (n >= 0xfffe || idx < 0 || static_cast<uint32_t>(idx) > n) return false;
  if (content > usable || content < ptr_end + 2 || content - ptr_end - 2 < cell.size()) {
    return false;
  }
  uint32_t off = content - static_cast<uint32_t>(cell.size());
  std::memcpy(page + off, cell.data(), cell.size());
  uint8_t* ptrs = h + hsize;
  std::memmove(ptrs + 2 * (idx + 1), ptrs + 2 * idx, 2 * (n - idx));
  Put16(ptrs + 2 * idx, static_cast<uint16_t>(off));
  Put16(h + 3, static_cast<uint16_t>(n + 1));
  Put16(h + 5, static_cast<uint16_t>(off));
  return true;
}

bool TryRemoveCell(uint8_t* page, uint32_t pgno, uint32_t usable, int idx, uint32_t size) {
  uint32_t hdr = BtreeHeaderOffset(pgno);
  uint8_t* h = page + hdr;
  uint32_t hsize = PageHeaderSize(static_cast<PageType>(h[0]));
  uint32_t n = Get16(h + 3);
  uint32_t content = Get16(h + 5);
  if (content == 0) content = 65536;
  uint32_t ptr_end = hdr + hsize + 2 * n;
  if (Get16(h + 1) != 0 || idx < 0 || static_cast<uint32_t>(idx) >= n) return false;
  if (content > usable || content < ptr_end) return false;
  uint8_t* ptrs = h + hsize;
  const uint32_t off = Get16(ptrs + 2 * idx);
  if (off < content || off + size > usable) return false;
  for (uint32_t j = 0; j < n; ++j) {
    uint32_t p = Get16(ptrs + 2 * j);
    if (p < content || p >= usable ||
        (j != static_cast<uint32_t>(idx) && p >= off && p < off + size)) {
      return false;
    }
  }
  // Close the gap: the cells below the removed one move up by `size` bytes.
  std::memmove(page + content + size, page + content, off - content);
  std::memset(page + content, 0, size);
  for (uint32_t j = 0; j < n; ++j) {
    uint32_t p = Get16(ptrs + 2 * j);
    if (p < off) Put16(ptrs + 2 * j, static_cast<uint16_t>(p + size));
  }
  std::memmove(ptrs + 2 * idx, ptrs + 2 * (idx + 1), 2 * (n - idx - 1));
  Put16(ptrs + 2 * (n - 1), 0);
  Put16(h + 3, static_cast<uint16_t>(n - 1));
  Put16(h + 5, static_cast<uint16_t>(content + size));
  return true;
}

bool TryReplaceCell(uint8_t* page, uint32_t pgno, uint32_t usable, int idx, uint32_t old_size,
                    const std::string& cell) {
  const uint8_t* h = page + BtreeHeaderOffset(pgno);
  uint32_t content = Get16(h + 5);
  if (content == 0) content = 65536;
  const uint32_t ptr_end =
      BtreeHeaderOffset(pgno) + PageHeaderSize(static_cast<PageType>(h[0])) + 2 * Get16(h + 3);
  // The gap once the old cell is gone; the new cell's pointer reuses the old one's slot.
  if (content < ptr_end || content - ptr_end + old_size < cell.size()) return false;
  if (!TryRemoveCell(page, pgno, usable, idx, old_size)) return false;
  const bool inserted = TryInsertCell(page, pgno, usable, idx, cell);
  PGQRS_CHECK(inserted);
  return true;
}

uint32_t CellLeftChild(const std::string& cell) {
  return Get32(reinterpret_cast<const uint8_t*>(cell.data()));
}

void SetCellLeftChild(std::string* cell, uint32_t child) {
  Put32(reinterpret_cast<uint8_t*>(cell->data()), child);
}

}  // namespace pgqrs::engine
