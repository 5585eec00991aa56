// B-tree operations against a std::map / std::set model, including the schema root on page 1
// (whose usable space is 100 bytes smaller) and index keys large enough to overflow.
#include "engine/btree/btree.h"

#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <set>

#include "engine/io/sim_backend.h"
#include "engine/pager/pager.h"
#include "tests/engine/test_util.h"

namespace pgqrs::engine::testing {
namespace {

std::unique_ptr<Pager> OpenPager(const std::string& backend, const std::string& path) {
  PagerOptions o;
  o.cache_pages = 32;
  o.seed = 3;
  auto p = Pager::Open(MakeBackend(backend), path, o);
  INFO(p.status().ToString());
  REQUIRE(p.ok());
  return std::move(*p);
}

void CheckTable(BTree* tree, const std::map<int64_t, std::string>& model) {
  Cursor c(tree);
  REQUIRE(c.First().ok());
  for (const auto& [rowid, payload] : model) {
    REQUIRE(c.Valid());
    REQUIRE(c.rowid() == rowid);
    REQUIRE(c.payload() == payload);
    REQUIRE(c.Next().ok());
  }
  REQUIRE(!c.Valid());
  auto max = tree->MaxRowid();
  REQUIRE(max.ok());
  REQUIRE(*max == (model.empty() ? std::optional<int64_t>() : model.rbegin()->first));
  REQUIRE(*tree->Count() == static_cast<int64_t>(model.size()));
}

TEST_CASE("table b-tree rooted on page 1 grows, shrinks and stays ordered", "[engine][btree]") {
  const std::string backend = GENERATE(as<std::string>{}, "uring", "posix");
  auto pager = OpenPager(backend, NewTempDir("bt") + "/t.db");
  BTree tree(pager.get(), 1, true);
  std::map<int64_t, std::string> model;
  std::mt19937_64 rng(5);
  for (int round = 0; round < 6; ++round) {
    pager->Begin();
    for (int i = 0; i < 400; ++i) {
      int64_t key = round < 2 ? static_cast<int64_t>(model.size()) + 1 : rng() % 3000;
      std::string payload(rng() % 3 == 0 ? 50 + rng() % 6000 : 20 + rng() % 200, 'a' + rng() % 26);
      REQUIRE(tree.Insert(key, payload).ok());
      model[key] = payload;
      auto max = tree.MaxRowid();
      REQUIRE(max.ok());
      REQUIRE(**max == model.rbegin()->first);
    }
    for (int i = 0; i < (round % 2 ? 500 : 100); ++i) {
      int64_t key = rng() % 3000;
      auto gone = tree.Delete(key);
      REQUIRE(gone.ok());
      REQUIRE(*gone == (model.erase(key) == 1));
    }
    auto lsn = pager->Commit();
    REQUIRE(lsn.ok());
    REQUIRE(pager->SyncTo(*lsn).ok());
    CheckTable(&tree, model);
  }
}

}  // namespace
}  // namespace pgqrs::engine::testing

namespace pgqrs::engine::testing {
namespace {

TEST_CASE("schema-like inserts interleaved with new trees keep MaxRowid exact", "[engine][btree]") {
  const std::string backend = GENERATE(as<std::string>{}, "uring", "posix");
  auto pager = OpenPager(backend, NewTempDir("bt2") + "/t.db");
  BTree schema(pager.get(), 1, true);
  pager->Begin();
  std::map<int64_t, std::string> model;
  for (int i = 0; i < 60; ++i) {
    for (int k = 0; k < 2; ++k) {
      auto root = BTree::Create(pager.get(), k == 0);
      REQUIRE(root.ok());
      auto max = schema.MaxRowid();
      REQUIRE(max.ok());
      int64_t rowid = max->value_or(0) + 1;
      INFO("i " << i << " k " << k << " rowid " << rowid << " model max "
                << (model.empty() ? 0 : model.rbegin()->first));
      REQUIRE(rowid == (model.empty() ? 1 : model.rbegin()->first + 1));
      std::string rec(150 + i % 7, 'x');
      REQUIRE(schema.Insert(rowid, rec).ok());
      model[rowid] = rec;
      if (k == 0) {
        BTree t(pager.get(), *root, true);
        REQUIRE(t.Insert(1, "abc").ok());
      } else {
        BTree ix(pager.get(), *root, false);
        std::string key;
        EncodeRecord({Value::Text("q"), Value::Integer(i), Value::Integer(1)}, &key);
        REQUIRE(ix.InsertKey(key).ok());
      }
    }
  }
  CheckTable(&schema, model);
}

}  // namespace
}  // namespace pgqrs::engine::testing
