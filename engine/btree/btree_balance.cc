// Rebalancing: splits, merges/redistribution between siblings, and root growth/shrinking.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/btree/btree.h"
#include "engine/format/varint.h"

namespace pgqrs::engine {
namespace {

// A page's share of the gathered items: cells [begin, end). For every page but the last,
// when the tree type uses separators, item `end` moves up to the parent.
struct Range {
  size_t begin, end;
};

// Greedy left-to-right packing into as few pages as possible.
std::vector<Range> PackGreedy(const std::vector<size_t>& sizes, size_t cap, bool sep) {
  std::vector<Range> out;
  size_t i = 0, n = sizes.size();
  while (i < n) {
    size_t start = i, used = 0;
    while (i < n && used + sizes[i] <= cap) used += sizes[i++];
    if (i == start) return {};  // an item larger than a page: caller reports
    out.push_back({start, i});
    if (sep && i < n) {
      if (i + 1 == n) {
        // The separator would be the last item: end this page one earlier instead.
        if (out.back().end - out.back().begin < 2) return {};
        out.back().end -= 1;
        out.push_back({n - 1, n});
        return out;
      }
      ++i;
    }
  }
  return out;
}

// Packs into the same number of pages as PackGreedy, but balanced by bytes.
std::vector<Range> PackEven(const std::vector<size_t>& sizes, size_t cap, bool sep) {
  std::vector<Range> greedy = PackGreedy(sizes, cap, sep);
  if (greedy.size() <= 1) return greedy;
  size_t total = 0;
  for (size_t s : sizes) total += s;
  const size_t k = greedy.size(), n = sizes.size();
  const size_t target = total / k;
  std::vector<Range> out;
  size_t i = 0;
  for (size_t p = 0; p + 1 < k; ++p) {
    size_t start = i, used = 0;
    while (i < n && used < target && used + sizes[i] <= cap) used += sizes[i++];
    if (i == start || i >= n) return greedy;
    out.push_back({start, i});
    if (sep && ++i >= n) return greedy;
  }
  size_t used = 0;
  for (size_t j = i; j < n; ++j) used += sizes[j];
  if (i >= n || used > cap) return greedy;
  out.push_back({i, n});
  return out;
}

int64_t TableLeafRowid(const std::string& cell) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(cell.data());
  uint64_t v;
  int k = GetVarint(p, cell.size(), &v);
  GetVarint(p + k, cell.size() - k, &v);
  return static_cast<int64_t>(v);
}

std::string ChildPrefix(uint32_t child) {
  std::string s(4, '\0');
  Put32(reinterpret_cast<uint8_t*>(s.data()), child);
  return s;
}

}  // namespace

absl::Status BTree::Apply(Change* c) {
  for (size_t depth = c->path.size(); depth-- > 0;) {
    std::optional<Node>& pending = c->path[depth].pending;
    if (!pending) continue;
    Node node = std::move(*pending);
    pending.reset();
    if (depth == 0) return SettleRoot(c, std::move(node));
    PGQRS_RETURN_IF_ERROR(Settle(c, depth, std::move(node)));
  }
  return absl::OkStatus();
}

absl::Status BTree::Settle(Change* c, size_t depth, Node node) {
  const uint32_t pgno = c->path[depth].pgno;
  const size_t cap = pages_->usable_size() - BtreeHeaderOffset(pgno);
  if (node.Bytes() > cap) return Redistribute(c, depth, std::move(node), /*split=*/true);
  if (c->merge && (node.cells.empty() || node.Bytes() < cap / 4)) {
    return Redistribute(c, depth, std::move(node), /*split=*/false);
  }
  return WriteNode(c, pgno, node);
}

absl::Status BTree::SettleRoot(Change* c, Node node) {
  const size_t cap = pages_->usable_size() - BtreeHeaderOffset(root_);
  if (node.Bytes() > cap) return BalanceDeeper(c, std::move(node));
  if (!IsLeaf(node.type) && node.cells.empty()) {
    // Balance shallower: pull the only child up into the root if it fits.
    const uint32_t child = node.right_child;
    PGQRS_ASSIGN_OR_RETURN(Node below, LoadNode(child));
    if (below.Bytes() <= cap) {
      PGQRS_RETURN_IF_ERROR(FreePage(c, child));
      return SettleRoot(c, std::move(below));
    }
  }
  return WriteNode(c, root_, node);
}

absl::Status BTree::BalanceDeeper(Change* c, Node node) {
  PGQRS_ASSIGN_OR_RETURN(PageRef child, AllocatePage(c));
  Node root;
  root.type = InteriorTypeOf(is_table_);
  root.right_child = child->pgno;
  // Everything below the root is settled, so the path restarts as root -> new child.
  c->path.clear();
  c->path.push_back({root_, 0, std::move(root)});
  c->path.push_back({child->pgno, 0, std::move(node)});
  return Apply(c);
}

absl::Status BTree::Redistribute(Change* c, size_t depth, Node node, bool split) {
  Group g;
  g.ci = static_cast<size_t>(c->path[depth - 1].idx);
  PGQRS_ASSIGN_OR_RETURN(g.parent, TakeNode(c, depth - 1));
  const size_t n = g.parent.cells.size();
  if (g.ci > n) return absl::DataLossError("b-tree path out of range");
  g.a = g.b = g.ci;
  if (!split) {
    if (n == 0) {
      // An only child has no sibling to merge with; the parent settles next (a root may
      // then absorb it).
      PGQRS_RETURN_IF_ERROR(WriteNode(c, c->path[depth].pgno, node));
      c->path[depth - 1].pending = std::move(g.parent);
      return absl::OkStatus();
    }
    // Merge with the left sibling, or the right one for the first child.
    if (g.ci > 0) {
      g.a = g.ci - 1;
    } else {
      g.b = g.ci + 1;
    }
  }
  g.type = node.type;
  PGQRS_RETURN_IF_ERROR(Gather(&g, std::move(node)));
  PGQRS_RETURN_IF_ERROR(PackAndWrite(c, &g, split && c->append));
  // Replace the group's old dividers in the parent by the new ones.
  Node& parent = g.parent;
  const size_t k = g.new_pgnos.size();
  parent.cells.erase(parent.cells.begin() + g.a, parent.cells.begin() + g.b);
  parent.cells.insert(parent.cells.begin() + g.a, g.dividers.begin(), g.dividers.end());
  if (g.b < n) {
    SetCellLeftChild(&parent.cells[g.a + k - 1], g.new_pgnos[k - 1]);
  } else {
    parent.right_child = g.new_pgnos[k - 1];
  }
  c->path[depth - 1].pending = std::move(parent);
  return absl::OkStatus();
}

// Collects the cells of children [a, b] of the parent, plus the parent dividers between them
// (demoted to the child's cell format) for every page type except table leaves.
absl::Status BTree::Gather(Group* g, Node node) {
  const size_t n = g->parent.cells.size();
  const bool table_leaf = g->type == PageType::kTableLeaf;
  for (size_t j = g->a; j <= g->b; ++j) {
    uint32_t pgno = j < n ? CellLeftChild(g->parent.cells[j]) : g->parent.right_child;
    g->old_pgnos.push_back(pgno);
    Node member;
    if (j == g->ci) {
      member = std::move(node);
    } else {
      PGQRS_ASSIGN_OR_RETURN(member, LoadNode(pgno));
      if (member.type != g->type) return absl::DataLossError("sibling pages differ in type");
    }
    for (std::string& c : member.cells) g->items.push_back(std::move(c));
    g->final_right = member.right_child;
    if (j == g->b || table_leaf) continue;
    std::string divider = g->parent.cells[j];
    if (g->type == PageType::kIndexLeaf) {
      g->items.push_back(divider.substr(4));
    } else {
      SetCellLeftChild(&divider, member.right_child);
      g->items.push_back(std::move(divider));
    }
  }
  return absl::OkStatus();
}

// Packs the gathered items onto as few pages as hold them (reusing the group's pages, then
// allocating, then freeing leftovers), writes them, and builds the parent's new dividers.
absl::Status BTree::PackAndWrite(Change* c, Group* g, bool pack_left) {
  const PageType type = g->type;
  const bool table_leaf = type == PageType::kTableLeaf;
  std::vector<size_t> sizes;
  sizes.reserve(g->items.size());
  for (const std::string& c : g->items) sizes.push_back(c.size() + 2);
  const size_t cap = pages_->usable_size() - PageHeaderSize(type);
  std::vector<Range> ranges =
      pack_left ? PackGreedy(sizes, cap, !table_leaf) : PackEven(sizes, cap, !table_leaf);
  if (ranges.empty()) {
    if (!g->items.empty()) return absl::InternalError("b-tree cell does not fit on a page");
    ranges.push_back({0, 0});
  }
  const size_t k = ranges.size();
  g->new_pgnos = g->old_pgnos;
  g->new_pgnos.resize(std::min(k, g->old_pgnos.size()));
  while (g->new_pgnos.size() < k) {
    PGQRS_ASSIGN_OR_RETURN(PageRef fresh, AllocatePage(c));
    g->new_pgnos.push_back(fresh->pgno);
  }
  for (size_t p = 0; p < k; ++p) {
    Node out;
    out.type = type;
    for (size_t j = ranges[p].begin; j < ranges[p].end; ++j) out.cells.push_back(g->items[j]);
    if (!IsLeaf(type)) out.right_child = g->final_right;
    if (p + 1 < k) {
      const uint32_t pg = g->new_pgnos[p];
      if (table_leaf) {
        uint8_t v[9];
        int len = PutVarint(v, static_cast<uint64_t>(TableLeafRowid(out.cells.back())));
        g->dividers.push_back(ChildPrefix(pg) + std::string(reinterpret_cast<char*>(v), len));
      } else if (type == PageType::kIndexLeaf) {
        g->dividers.push_back(ChildPrefix(pg) + g->items[ranges[p].end]);
      } else {
        std::string sep = g->items[ranges[p].end];
        out.right_child = CellLeftChild(sep);
        SetCellLeftChild(&sep, pg);
        g->dividers.push_back(std::move(sep));
      }
    }
    PGQRS_RETURN_IF_ERROR(WriteNode(c, g->new_pgnos[p], out));
  }
  for (size_t p = k; p < g->old_pgnos.size(); ++p) {
    PGQRS_RETURN_IF_ERROR(FreePage(c, g->old_pgnos[p]));
  }
  return absl::OkStatus();
}

absl::StatusOr<Node> BTree::TakeNode(Change* c, size_t depth) {
  std::optional<Node>& pending = c->path[depth].pending;
  if (!pending) return LoadNode(c->path[depth].pgno);
  Node node = std::move(*pending);
  pending.reset();
  return node;
}

absl::StatusOr<Node> BTree::LoadNode(uint32_t pgno) {
  PGQRS_ASSIGN_OR_RETURN(PageRef page, pages_->Get(pgno));
  PGQRS_ASSIGN_OR_RETURN(PageView view, View(page));
  return DecodeNode(view);
}

absl::Status BTree::WriteNode(Change* c, uint32_t pgno, const Node& node) {
  if (std::find(c->freed.begin(), c->freed.end(), pgno) != c->freed.end()) {
    return absl::InternalError(absl::StrCat("b-tree page ", pgno, " written after being freed"));
  }
  PGQRS_CHECK(node.Bytes() <= pages_->usable_size() - BtreeHeaderOffset(pgno));
  PGQRS_ASSIGN_OR_RETURN(PageRef page, pages_->Get(pgno));
  writer_->MarkDirty(page);
  EncodeNode(node, pgno, pages_->usable_size(), page->data.get());
  return absl::OkStatus();
}

absl::StatusOr<PageRef> BTree::AllocatePage(Change* c) {
  PGQRS_ASSIGN_OR_RETURN(PageRef page, writer_->Allocate());
  c->freed.erase(std::remove(c->freed.begin(), c->freed.end(), page->pgno), c->freed.end());
  return page;
}

absl::Status BTree::FreePage(Change* c, uint32_t pgno) {
  PGQRS_RETURN_IF_ERROR(writer_->Free(pgno));
  c->freed.push_back(pgno);
  return absl::OkStatus();
}

}  // namespace pgqrs::engine
