// B-tree page layout (fileformat.html section 1.6): page types, cell parsing with bounds
// checks, the local-payload formulas, and a decoded "Node" form used when rewriting a page.
// Thread safety: stateless functions; PageView borrows the page bytes (caller keeps them alive).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace pgqrs::engine {

enum class PageType : uint8_t {
  kIndexInterior = 0x02,
  kTableInterior = 0x05,
  kIndexLeaf = 0x0a,
  kTableLeaf = 0x0d,
};

inline bool IsLeaf(PageType t) { return t == PageType::kIndexLeaf || t == PageType::kTableLeaf; }
inline bool IsTable(PageType t) {
  return t == PageType::kTableLeaf || t == PageType::kTableInterior;
}
inline PageType LeafTypeOf(bool table) {
  return table ? PageType::kTableLeaf : PageType::kIndexLeaf;
}
inline PageType InteriorTypeOf(bool table) {
  return table ? PageType::kTableInterior : PageType::kIndexInterior;
}
inline uint32_t PageHeaderSize(PageType t) { return IsLeaf(t) ? 8 : 12; }
// Offset of the b-tree header within page `pgno` (page 1 carries the file header first).
inline uint32_t BtreeHeaderOffset(uint32_t pgno) { return pgno == 1 ? 100 : 0; }

// Most payload kept on a page (X), least kept (M), and the local size for a payload of
// `payload` bytes on a page of `type` with usable size `usable`.
uint32_t MaxLocal(PageType type, uint32_t usable);
uint32_t MinLocal(uint32_t usable);
uint32_t LocalPayloadSize(PageType type, uint32_t usable, uint64_t payload);

// One parsed cell. Offsets are relative to the page start.
struct CellInfo {
  uint32_t left_child = 0;    // interior pages
  int64_t rowid = 0;          // table pages
  uint64_t payload_size = 0;  // leaf table and index pages
  uint32_t local_offset = 0;
  uint32_t local_size = 0;
  uint32_t overflow_page = 0;  // 0 when the payload is fully local
  uint32_t size = 0;           // bytes occupied by the cell
};

// Parses the cell starting at `off`. Returns DataLoss if any part lies outside [0, usable).
absl::StatusOr<CellInfo> ParseCell(const uint8_t* page, uint32_t usable, PageType type,
                                   uint32_t off);

// A validated, read-only view of a b-tree page.
class PageView {
 public:
  // Validates the page header of page `pgno`; cell pointers are checked by Cell().
  static absl::StatusOr<PageView> Parse(const uint8_t* data, uint32_t pgno, uint32_t usable);

  PageType type() const { return type_; }
  bool is_leaf() const { return IsLeaf(type_); }
  int cell_count() const { return ncells_; }
  uint32_t right_child() const { return right_child_; }
  const uint8_t* data() const { return data_; }
  uint32_t usable() const { return usable_; }
  // Parses cell `i`. REQUIRES: 0 <= i < cell_count().
  absl::StatusOr<CellInfo> Cell(int i) const;
  // Child page to the left of cell i, or the right child for i == cell_count().
  absl::StatusOr<uint32_t> Child(int i) const;
  // Page offset of cell i as stored (validated only by Cell()).
  uint32_t CellOffset(int i) const;

 private:
  const uint8_t* data_ = nullptr;
  uint32_t usable_ = 0;
  uint32_t hdr_ = 0;
  PageType type_ = PageType::kTableLeaf;
  int ncells_ = 0;
  uint32_t ptr_end_ = 0;
  uint32_t right_child_ = 0;
};

// A page decoded for modification: raw cell bytes (including the 4-byte left child of
// interior cells) in key order.
struct Node {
  PageType type = PageType::kTableLeaf;
  std::vector<std::string> cells;
  uint32_t right_child = 0;

  // Bytes needed on a page: b-tree header + pointer array + cell bodies.
  size_t Bytes() const;
};

// Copies the cells of a validated page into a Node.
absl::StatusOr<Node> DecodeNode(const PageView& view);

// Rewrites page `pgno` (all `page_size` bytes, keeping bytes 0..99 of page 1 and the reserved
// tail) from `node`, cells packed at the end. REQUIRES: node.Bytes() <= usable - header offset.
void EncodeNode(const Node& node, uint32_t pgno, uint32_t usable, uint8_t* page);

// Inserts `cell` as cell `idx` of page `pgno` in place, using the unallocated gap between
// the pointer array and the cell content. Returns false (page untouched) if it does not fit.
// A content-area start outside [pointer array end, usable] (a damaged page) also returns false.
bool TryInsertCell(uint8_t* page, uint32_t pgno, uint32_t usable, int idx, const std::string& cell);

// Removes cell `idx` (of `size` bytes) from page `pgno` in place, moving the cells stored
// below it up so no freeblock is created. Returns false (page untouched) if the page has
// freeblocks or any pointer looks damaged.
bool TryRemoveCell(uint8_t* page, uint32_t pgno, uint32_t usable, int idx, uint32_t size);

// Replaces cell `idx` (of `old_size` bytes) of page `pgno` with `cell` in place: removes it as
// TryRemoveCell does and inserts `cell` at the same index. Returns false (page untouched) if
// `cell` would not fit or TryRemoveCell would refuse the page.
bool TryReplaceCell(uint8_t* page, uint32_t pgno, uint32_t usable, int idx, uint32_t old_size,
                    const std::string& cell);

// Left child pointer stored in the first 4 bytes of an interior cell.
uint32_t CellLeftChild(const std::string& cell);
void SetCellLeftChild(std::string* cell, uint32_t child);

}  // namespace pgqrs::engine
