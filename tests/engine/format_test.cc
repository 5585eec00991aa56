#include <catch2/catch.hpp>
#include <cstring>
#include <random>

#include "engine/catalog/schema.h"
#include "engine/format/btree_page.h"
#include "engine/format/db_header.h"
#include "engine/format/record.h"
#include "engine/format/varint.h"
#include "engine/wal/wal.h"

namespace pgqrs::engine {
namespace {

TEST_CASE("varints round-trip at every length boundary", "[engine][format]") {
  std::vector<uint64_t> values = {0,
                                  1,
                                  127,
                                  128,
                                  16383,
                                  16384,
                                  (1u << 21) - 1,
                                  1u << 21,
                                  (uint64_t{1} << 56) - 1,
                                  uint64_t{1} << 56,
                                  ~uint64_t{0}};
  std::mt19937_64 rng(1);
  for (int i = 0; i < 1000; ++i) values.push_back(rng() >> (rng() % 64));
  for (uint64_t v : values) {
    uint8_t buf[9];
    int n = PutVarint(buf, v);
    REQUIRE(n == VarintLength(v));
    uint64_t out;
    REQUIRE(GetVarint(buf, n, &out) == n);
    REQUIRE(out == v);
    if (n > 1) {
      REQUIRE(GetVarint(buf, n - 1, &out) == 0);  // truncated input is rejected
    }
  }
  uint8_t b[9];
  REQUIRE(PutVarint(b, 127) == 1);
  REQUIRE(PutVarint(b, 128) == 2);
  REQUIRE(b[0] == 0x81);
  REQUIRE(b[1] == 0x00);
}

TEST_CASE("records round-trip all serial types", "[engine][format]") {
  std::vector<Value> values = {Value::Null(),
                               Value::Integer(0),
                               Value::Integer(1),
                               Value::Integer(-1),
                               Value::Integer(127),
                               Value::Integer(-129),
                               Value::Integer(40000),
                               Value::Integer(8388608),
                               Value::Integer(-2147483649LL),
                               Value::Integer(140737488355328LL),
                               Value::Integer(INT64_MIN),
                               Value::Integer(INT64_MAX),
                               Value::Real(3.25),
                               Value::Text(""),
                               Value::Text("héllo"),
                               Value::Blob(std::string("\0\1\2", 3))};
  std::string rec;
  EncodeRecord(values, &rec);
  auto decoded = DecodeRecord(rec);
  REQUIRE(decoded.ok());
  REQUIRE(*decoded == values);
  // Serial types: 0 and 1 use types 8/9 (no body); 127 uses 1 byte.
  std::string small;
  EncodeRecord({Value::Integer(0), Value::Integer(1), Value::Integer(127)}, &small);
  REQUIRE(small == std::string("\x04\x08\x09\x01\x7f", 5));
}

TEST_CASE("malformed records are DataLoss, never a crash", "[engine][format]") {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::string junk(rng() % 24, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    auto r = DecodeRecord(junk);
    if (!r.ok()) REQUIRE(absl::IsDataLoss(r.status()));
  }
  REQUIRE(absl::IsDataLoss(DecodeRecord(std::string("\x02\x0a", 2)).status()));  // type 10
  REQUIRE(absl::IsDataLoss(DecodeRecord(std::string("\x02\x11", 2)).status()));  // body overrun
}

TEST_CASE("sort order: NULL < numbers < text < blob, DESC inverts", "[engine][format]") {
  REQUIRE(CompareValues(Value::Null(), Value::Integer(-5)) < 0);
  REQUIRE(CompareValues(Value::Integer(2), Value::Real(2.5)) < 0);
  REQUIRE(CompareValues(Value::Real(2.0), Value::Integer(2)) == 0);
  REQUIRE(CompareValues(Value::Integer(9), Value::Text("")) < 0);
  REQUIRE(CompareValues(Value::Text("ab"), Value::Text("abc")) < 0);
  REQUIRE(CompareValues(Value::Text("zz"), Value::Blob("")) < 0);
  std::string rec;
  EncodeRecord({Value::Integer(5), Value::Integer(1)}, &rec);
  auto c = CompareRecordToKey(rec, {Value::Integer(7)}, {true});
  REQUIRE(c.ok());
  REQUIRE(*c > 0);  // 5 sorts after 7 in a DESC column
}

TEST_CASE("local payload sizes match SQLite's formulas", "[engine][format]") {
  REQUIRE(MaxLocal(PageType::kTableLeaf, 4096) == 4061);
  REQUIRE(MaxLocal(PageType::kIndexLeaf, 4096) == 1002);
  REQUIRE(MinLocal(4096) == 489);
  REQUIRE(MaxLocal(PageType::kIndexLeaf, 4068) == 994);
  REQUIRE(MinLocal(65536) == 8199);
  // From the research notes (verified against sqlite3): blob 4085 -> P 4088, 489 local;
  // blob 5000 -> P 5003, K local; blob 20000 -> P 20004 (3-byte serial type), 3636 local.
  REQUIRE(LocalPayloadSize(PageType::kTableLeaf, 4096, 4050 + 3) == 4053);
  REQUIRE(LocalPayloadSize(PageType::kTableLeaf, 4096, 4088) == 489);
  REQUIRE(LocalPayloadSize(PageType::kTableLeaf, 4096, 5003) == 911);
  REQUIRE(LocalPayloadSize(PageType::kTableLeaf, 4096, 20004) == 3636);
}

TEST_CASE("database header round-trips and rejects junk", "[engine][format]") {
  DbHeader h;
  h.change_counter = h.version_valid_for = 7;
  h.page_count = 12;
  h.schema_cookie = 3;
  uint8_t buf[100];
  SerializeDbHeader(h, buf);
  auto p = ParseDbHeader(buf);
  REQUIRE(p.ok());
  REQUIRE(p->page_count == 12);
  REQUIRE(p->page_count_valid());
  REQUIRE(p->lock_byte_page() == 262145);
  buf[0] = 'X';
  REQUIRE(absl::IsInvalidArgument(ParseDbHeader(buf).status()));
  buf[0] = 'S';
  buf[16] = 0x03;  // page size 0x0300: not a power of two
  REQUIRE(!ParseDbHeader(buf).ok());
}

TEST_CASE("page encode/decode keeps cells in order", "[engine][format]") {
  std::vector<uint8_t> page(4096, 0xee);
  Node n;
  n.type = PageType::kTableLeaf;
  for (int i = 0; i < 50; ++i) {
    std::string rec;
    EncodeRecord({Value::Integer(i), Value::Text(std::string(i, 'x'))}, &rec);
    uint8_t hdr[18];
    int k = PutVarint(hdr, rec.size());
    k += PutVarint(hdr + k, i + 1);
    n.cells.push_back(std::string(reinterpret_cast<char*>(hdr), k) + rec);
  }
  EncodeNode(n, 2, 4096, page.data());
  auto v = PageView::Parse(page.data(), 2, 4096);
  REQUIRE(v.ok());
  REQUIRE(v->cell_count() == 50);
  for (int i = 0; i < 50; ++i) REQUIRE(v->Cell(i)->rowid == i + 1);
  auto back = DecodeNode(*v);
  REQUIRE(back.ok());
  REQUIRE(back->cells == n.cells);
}

TEST_CASE("a cell is replaced in place by a longer or shorter one while it fits",
          "[engine][format]") {
  auto cell = [](int rowid, size_t bytes) {
    std::string rec;
    EncodeRecord({Value::Integer(rowid), Value::Text(std::string(bytes, 'x'))}, &rec);
    uint8_t hdr[18];
    int k = PutVarint(hdr, rec.size());
    k += PutVarint(hdr + k, rowid);
    return std::string(reinterpret_cast<char*>(hdr), k) + rec;
  };
  std::vector<uint8_t> page(4096, 0);
  Node n;
  n.type = PageType::kTableLeaf;
  for (int i = 1; i <= 10; ++i) n.cells.push_back(cell(i, 300));
  EncodeNode(n, 2, 4096, page.data());
  auto size_of = [&](int i) { return PageView::Parse(page.data(), 2, 4096)->Cell(i)->size; };

  n.cells[4] = cell(5, 700);  // grows into the free gap
  REQUIRE(TryReplaceCell(page.data(), 2, 4096, 4, size_of(4), n.cells[4]));
  n.cells[2] = cell(3, 20);  // shrinks
  REQUIRE(TryReplaceCell(page.data(), 2, 4096, 2, size_of(2), n.cells[2]));
  auto v = PageView::Parse(page.data(), 2, 4096);
  REQUIRE(v.ok());
  REQUIRE(DecodeNode(*v)->cells == n.cells);

  // Too big for the page: refused, and the page is untouched.
  const std::vector<uint8_t> before = page;
  REQUIRE_FALSE(TryReplaceCell(page.data(), 2, 4096, 7, size_of(7), cell(8, 1500)));
  REQUIRE(page == before);
}

TEST_CASE("WAL checksums follow SQLite's definition in both byte orders", "[engine][format]") {
  // walChecksumBytes: 32-bit words in the given byte order, summed pairwise.
  auto reference = [](bool big_endian, const std::vector<uint8_t>& p, uint32_t s0, uint32_t s1) {
    for (size_t i = 0; i + 8 <= p.size(); i += 8) {
      uint32_t x[2];
      for (int w = 0; w < 2; ++w) {
        const uint8_t* b = p.data() + i + 4 * w;
        x[w] = big_endian
                   ? (uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3])
                   : (uint32_t{b[3]} << 24 | uint32_t{b[2]} << 16 | uint32_t{b[1]} << 8 | b[0]);
      }
      s0 += x[0] + s1;
      s1 += x[1] + s0;
    }
    return std::make_pair(s0, s1);
  };
  std::vector<uint8_t> page(4096);
  for (size_t i = 0; i < page.size(); ++i) page[i] = static_cast<uint8_t>(i * 131 + (i >> 7));
  for (bool big_endian : {false, true}) {
    uint32_t s0 = 17, s1 = 0xfffffff0;
    WalChecksum(big_endian, page.data(), page.size(), &s0, &s1);
    REQUIRE(std::make_pair(s0, s1) == reference(big_endian, page, 17, 0xfffffff0));
  }
}

TEST_CASE("schema SQL is generated and parsed for the supported subset", "[engine][catalog]") {
  TableDef t;
  t.name = "messages";
  t.columns = {{"id", ColumnType::kInteger, false},
               {"queue_id", ColumnType::kInteger, true},
               {"payload", ColumnType::kBlob, false},
               {"vt", ColumnType::kReal, false},
               {"note", ColumnType::kText, false}};
  t.rowid_column = 0;
  t.autoincrement = true;
  std::string sql = CreateTableSql(t);
  REQUIRE(sql ==
          "CREATE TABLE \"messages\"(\"id\" INTEGER PRIMARY KEY AUTOINCREMENT, \"queue_id\" "
          "INTEGER NOT NULL, \"payload\" BLOB, \"vt\" REAL, \"note\" TEXT)");
  auto parsed = ParseCreateTable(sql);
  REQUIRE(parsed.ok());
  REQUIRE(parsed->rowid_column == 0);
  REQUIRE(parsed->autoincrement);
  REQUIRE(parsed->columns[1].not_null);
  IndexDef ix{
      "m_q", "messages", true, {{"queue_id", false}, {"vt", true}}, PartialPredicate::kIsNotNull,
      "note"};
  std::string isql = CreateIndexSql(ix);
  REQUIRE(
      isql ==
      "CREATE UNIQUE INDEX \"m_q\" ON \"messages\"(\"queue_id\", \"vt\" DESC) WHERE \"note\" IS "
      "NOT NULL");
  auto pix = ParseCreateIndex(isql);
  REQUIRE(pix.ok());
  REQUIRE(pix->unique);
  REQUIRE(pix->columns[1].desc);
  REQUIRE(pix->where == PartialPredicate::kIsNotNull);
  REQUIRE(ParseCreateTable("create table \"x y\"(a int)").status().code() ==
          absl::StatusCode::kUnimplemented);
  REQUIRE(!ParseCreateTable("CREATE TABLE t(a TEXT UNIQUE)").ok());
  REQUIRE(!ParseCreateIndex("CREATE INDEX i ON t(a COLLATE NOCASE)").ok());
  REQUIRE(ParseCreateTable("CREATE TABLE sqlite_sequence(name,seq)").ok());
}

TEST_CASE("identifiers are quoted like SQLite quotes them and parsed back", "[engine][catalog]") {
  TableDef t{"order",
             {{"select", ColumnType::kInteger},
              {"group", ColumnType::kText, true},
              {"we\"ird name", ColumnType::kBlob},
              {"primary", ColumnType::kReal}},
             0};
  REQUIRE(ValidateTableDef(t).ok());
  const std::string sql = CreateTableSql(t);
  REQUIRE(sql ==
          "CREATE TABLE \"order\"(\"select\" INTEGER PRIMARY KEY, \"group\" TEXT NOT NULL, "
          "\"we\"\"ird name\" BLOB, \"primary\" REAL)");
  auto back = ParseCreateTable(sql);
  INFO(back.status().ToString());
  REQUIRE(back.ok());
  REQUIRE(back->name == "order");
  REQUIRE(back->rowid_column == 0);
  REQUIRE(back->columns.size() == 4);
  REQUIRE(back->columns[2].name == "we\"ird name");
  REQUIRE(back->columns[3].name == "primary");
  REQUIRE(back->columns[3].type == ColumnType::kReal);
  IndexDef ix{"index",       "order", false, {{"group", true}}, PartialPredicate::kIsNull,
              "we\"ird name"};
  REQUIRE(ValidateIndexDef(ix, t).ok());
  auto pix = ParseCreateIndex(CreateIndexSql(ix));
  REQUIRE(pix.ok());
  REQUIRE(pix->name == "index");
  REQUIRE(pix->table == "order");
  REQUIRE(pix->columns[0].name == "group");
  REQUIRE(pix->where_column == "we\"ird name");
  // sqlite3's other quoting styles are read too.
  auto other = ParseCreateTable("CREATE TABLE [from](`to` INTEGER PRIMARY KEY, [a b] TEXT)");
  REQUIRE(other.ok());
  REQUIRE(other->name == "from");
  REQUIRE(other->columns[1].name == "a b");
  // Unquoted, PRIMARY starts a table constraint.
  REQUIRE(absl::IsUnimplemented(ParseCreateTable("CREATE TABLE t(a, PRIMARY KEY(a))").status()));
  REQUIRE(!ValidateTableDef({"t\x01", {{"a", ColumnType::kText}}, -1}).ok());
  REQUIRE(!ValidateTableDef({"SQLITE_x", {{"a", ColumnType::kText}}, -1}).ok());
}

}  // namespace
}  // namespace pgqrs::engine
