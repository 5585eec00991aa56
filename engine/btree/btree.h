// Table and index b-trees over the pager (fileformat.html sections 1.6, 2.3, 2.5).
//
// A table tree maps int64 rowids to record payloads (a B+tree: rows only in leaves).
// An index tree stores encoded index records (indexed columns, then the rowid) in key order
// (a classic B-tree: interior cells are entries too). Keys compare with CompareRecordToKey
// using the per-column DESC flags.
//
// Modifications descend from the root, then rebalance bottom-up: an overfull page is split, an
// underfull one (< 1/4 used) is merged with or refilled from a sibling, the root grows and
// shrinks in place. See engine/FORMAT.md section 1.3. Each modification carries its own state
// (the descent path with the pages' pending contents); a BTree holds nothing between calls.
// A page freed by a modification is never written again by it (InternalError if it would be).
//
// Thread safety: not thread-safe; callers serialize all use of a page source and its trees.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/format/btree_page.h"
#include "engine/format/record.h"
#include "engine/pager/pager.h"

namespace pgqrs::engine {

class BTree {
 public:
  // A tree rooted at `root` that `writer` reads and modifies (the pager, or a concurrent
  // transaction's private pages). For index trees, `desc[i]` marks DESC key columns.
  BTree(PageWriter* writer, uint32_t root, bool is_table, std::vector<bool> desc = {});
  // A read-only tree over `pages` (e.g. a snapshot): modifications are FailedPrecondition.
  BTree(PageSource* pages, uint32_t root, bool is_table, std::vector<bool> desc = {});

  // Allocates an empty root page for a new tree. REQUIRES: in a write transaction.
  static absl::StatusOr<uint32_t> Create(PageWriter* writer, bool is_table);

  uint32_t root() const { return root_; }
  bool is_table() const { return is_table_; }
  PageSource* pages() const { return pages_; }
  PageWriter* writer() const { return writer_; }  // null for a read-only tree
  const std::vector<bool>& desc() const { return desc_; }

  // --- table trees ---
  // Inserts or replaces the row `rowid`.
  absl::Status Insert(int64_t rowid, std::string_view payload);
  // Removes `rowid`. Returns false if it was absent.
  absl::StatusOr<bool> Delete(int64_t rowid);
  // The payload of `rowid`, or nullopt.
  absl::StatusOr<std::optional<std::string>> Find(int64_t rowid);
  // The largest rowid, or nullopt for an empty table.
  absl::StatusOr<std::optional<int64_t>> MaxRowid();

  // --- index trees ---
  // Inserts the encoded index record `record`. AlreadyExists if an identical entry exists.
  absl::Status InsertKey(std::string_view record);
  // InsertKey for a caller that has the record's values already: `key` must be exactly what
  // `record` encodes (it is not decoded again).
  absl::Status InsertKey(std::string_view record, const std::vector<Value>& key);
  // Removes the entry whose full key (all columns including the rowid) equals `key`.
  // Returns false if absent.
  absl::StatusOr<bool> DeleteKey(const std::vector<Value>& key);

  // Frees every page of the tree (including the root). REQUIRES: in a write transaction.
  absl::Status Drop();
  // Number of entries (walks the tree).
  absl::StatusOr<int64_t> Count();

  // Reads the full payload of a cell (following overflow pages, with bounds and chain-length
  // checks). The view points into `page` or into `*scratch`.
  absl::Status Payload(const uint8_t* page, const CellInfo& cell, std::string* scratch,
                       std::string_view* out);
  // Loads and validates page `pgno` as a page of this tree's family.
  absl::StatusOr<PageView> View(const PageRef& page);

 private:
  friend class Cursor;
  // One page on a search path: the page and the child index taken (interior pages) or the
  // cell index (the page where the search ended).
  struct Step {
    uint32_t pgno;
    int idx;
  };
  // One page on a modification's path from the root, with its new content if it has one.
  struct Level {
    uint32_t pgno;
    int idx;                      // child index taken (interior), or cell index (target page)
    std::optional<Node> pending;  // content to store (and rebalance), not yet written
  };
  // A modification in flight. Rebalancing consumes `path` bottom-up: a level's pending
  // content is taken exactly once, and a split or merge leaves its result pending on the
  // parent level. Every rebalancing rule reads its state from here, never from members.
  struct Change {
    std::vector<Level> path;      // root first
    bool append = false;          // insert at the far right: splits leave the left page full
    bool merge = false;           // deletion: underfull pages merge with or borrow from a sibling
    std::vector<uint32_t> freed;  // b-tree pages freed so far; writing one is an internal error
  };
  // Where a search ended: the path (its last level is the page holding the key, or the leaf
  // where it belongs), whether the key is there, and whether every step went rightmost.
  struct Descent {
    std::vector<Step> path;
    PageRef page;
    PageView view;
    bool found = false;
    bool rightmost = true;
  };
  // Position of the key on a page: the first cell >= the key; sets *exact when equal.
  using Search = absl::FunctionRef<absl::StatusOr<int>(const PageView&, bool* exact)>;

  absl::StatusOr<Descent> Descend(Search search, bool stop_at_interior_match);
  absl::StatusOr<Descent> DescendToRowid(int64_t rowid);  // table trees: ends on a leaf
  absl::StatusOr<Descent> DescendToKey(const std::vector<Value>& key);  // index trees
  absl::StatusOr<std::string> BuildCell(PageType type, const std::string& prefix,
                                        std::string_view payload);
  absl::Status FreeOverflow(const std::string& cell, PageType type);
  // Index-tree search: compares the key of cell `i` of `view` with `key`.
  absl::StatusOr<int> CompareCell(const PageView& view, int i, const std::vector<Value>& key);
  // Position of the first cell whose key is >= (or > when `strict`) `key`.
  absl::StatusOr<int> LowerBound(const PageView& view, const std::vector<Value>& key, bool strict,
                                 bool* exact);
  absl::StatusOr<int> RowidLowerBound(const PageView& view, int64_t rowid, bool* exact);

  // --- modifications (btree.cc) ---
  // A change whose only pending level is the page where `d` ended, now holding `node`.
  static Change ChangeAt(const Descent& d, Node node);
  // Inserts `cell` at the leaf position where `d` ended.
  absl::Status InsertLeafCell(const Descent& d, std::string cell);
  // Replaces the table-leaf cell where `d` ended (same rowid).
  absl::Status ReplaceLeafCell(const Descent& d, std::string cell);
  // Removes the leaf cell where `d` ended.
  absl::Status RemoveLeafCell(const Descent& d);
  // Removes the index entry on the interior page where `d` ended: its predecessor (the last
  // entry of the left subtree) takes its place.
  absl::Status RemoveFromInterior(const Descent& d);
  // Follows right children from `pgno` (at `depth`) down to a leaf, appending the interior
  // steps to `steps`. Returns the leaf's page number.
  absl::StatusOr<uint32_t> RightmostLeaf(uint32_t pgno, size_t depth, std::vector<Step>* steps);
  // Removes cell i of a leaf in place when the page stays at least 1/4 full (or is the root).
  // Returns false when the caller must take the rebalancing path instead.
  absl::StatusOr<bool> RemoveInPlace(const PageRef& page, const PageView& view, int i,
                                     bool is_root);

  // --- rebalancing (btree_balance.cc) ---
  // Stores every pending level of `c`, deepest first, splitting, merging and growing or
  // shrinking the root as needed. On return nothing is pending.
  absl::Status Apply(Change* c);
  // Stores `node` as the page at non-root level `depth`.
  absl::Status Settle(Change* c, size_t depth, Node node);
  absl::Status SettleRoot(Change* c, Node node);
  // The root's content moves to a new child, which is then settled (and split if needed).
  absl::Status BalanceDeeper(Change* c, Node node);
  // A parent and the group of its children [a, b] being split, merged or rebalanced.
  struct Group {
    Node parent;
    size_t a = 0, b = 0, ci = 0;  // group range and the modified child's index
    PageType type = PageType::kTableLeaf;
    std::vector<uint32_t> old_pgnos, new_pgnos;
    std::vector<std::string> items;     // cells (and demoted dividers) in key order
    uint32_t final_right = 0;           // right child of the last member (interior pages)
    std::vector<std::string> dividers;  // new parent cells
  };
  // Splits `node` (level `depth`) or merges it with a sibling; the parent becomes pending.
  absl::Status Redistribute(Change* c, size_t depth, Node node, bool split);
  absl::Status Gather(Group* g, Node node);
  absl::Status PackAndWrite(Change* c, Group* g, bool pack_left);
  // The pending content of level `depth`, or the page as stored.
  absl::StatusOr<Node> TakeNode(Change* c, size_t depth);
  absl::StatusOr<Node> LoadNode(uint32_t pgno);
  // Page writes, allocation and freeing during rebalancing, checked against `c->freed`.
  absl::Status WriteNode(Change* c, uint32_t pgno, const Node& node);
  absl::StatusOr<PageRef> AllocatePage(Change* c);
  absl::Status FreePage(Change* c, uint32_t pgno);

  // FailedPrecondition for a read-only tree.
  absl::Status CheckWritable() const;

  PageSource* pages_;   // reads
  PageWriter* writer_;  // modifications; null for a read-only tree
  uint32_t root_;
  bool is_table_;
  std::vector<bool> desc_;
};

// An ordered cursor over one tree. It caches the current entry, so reads stay valid after
// the tree changes; Next/Prev re-seek from the cached key when the pager reports changes.
// Thread safety: not thread-safe.
class Cursor {
 public:
  explicit Cursor(BTree* tree) : tree_(tree) {}

  absl::Status First();
  absl::Status Last();
  // Table trees: first row with rowid >= `rowid`.
  absl::Status SeekRowid(int64_t rowid);
  // Index trees: first entry >= `key` (prefix compare; `strict` makes it > key).
  absl::Status SeekGE(const std::vector<Value>& key, bool strict);
  // Index trees: last entry <= `key` (prefix compare; `strict` makes it < key).
  absl::Status SeekLE(const std::vector<Value>& key, bool strict);
  absl::Status Next();
  absl::Status Prev();

  bool Valid() const { return valid_; }
  // Table trees: rowid and payload of the current row. Index trees: the encoded record.
  int64_t rowid() const { return rowid_; }
  const std::string& payload() const { return payload_; }

 private:
  struct Frame {
    PageRef page;
    PageView view;
    int idx;
  };
  absl::Status Push(uint32_t pgno);
  absl::Status DescendEdge(bool leftmost);
  absl::Status Settle();  // skips empty leaves, then caches the entry
  absl::Status Load();
  absl::Status Step(bool forward);
  absl::Status Reposition(bool forward);
  absl::Status CheckOrder(int64_t prev_rowid, const std::string& prev, bool forward);
  bool is_table_check() const { return tree_->is_table(); }

  BTree* tree_;
  std::vector<Frame> stack_;
  bool valid_ = false;
  uint64_t epoch_ = 0;
  int64_t rowid_ = 0;
  std::string payload_;
  std::string scratch_;
};

}  // namespace pgqrs::engine
