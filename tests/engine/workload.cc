#include "tests/engine/workload.h"

#include <algorithm>
#include <catch2/catch.hpp>

#include "tests/engine/test_util.h"

namespace pgqrs::engine::testing {

TableDef MsgsTable() {
  TableDef t;
  t.name = "msgs";
  t.columns = {{"id", ColumnType::kInteger, false},   {"queue_id", ColumnType::kInteger, true},
               {"state", ColumnType::kInteger, true}, {"priority", ColumnType::kInteger, true},
               {"vt", ColumnType::kInteger, false},   {"payload", ColumnType::kBlob, false},
               {"label", ColumnType::kText, false},   {"score", ColumnType::kReal, false}};
  t.rowid_column = 0;
  t.autoincrement = true;
  return t;
}

std::vector<IndexDef> MsgsIndexes() {
  return {
      {"msgs_claim",
       "msgs",
       false,
       {{"queue_id", false}, {"state", false}, {"priority", true}, {"vt", false}, {"id", false}},
       PartialPredicate::kNone,
       ""},
      {"msgs_label", "msgs", true, {{"label", false}}, PartialPredicate::kNone, ""},
      {"msgs_vt", "msgs", false, {{"vt", false}}, PartialPredicate::kIsNotNull, "vt"},
      {"msgs_nolabel", "msgs", false, {{"queue_id", false}}, PartialPredicate::kIsNull, "label"},
      {"msgs_score",
       "msgs",
       false,
       {{"score", true}, {"payload", false}},
       PartialPredicate::kNone,
       ""},
  };
}

Row Workload::RandomRow() {
  auto pick = [&](int n) { return static_cast<int64_t>(rng_() % n); };
  size_t len;
  int r = static_cast<int>(pick(100));
  if (r < large_percent_) {
    len = 4000 + pick(16000);
  } else if (r < large_percent_ + 20) {
    len = 100 + pick(1900);
  } else {
    len = pick(100);
  }
  std::string payload(len, '\0');
  for (size_t i = 0; i < len; i += 7) payload[i] = static_cast<char>(rng_());
  Row row(8);
  row[0] = Value::Null();
  row[1] = Value::Integer(pick(4));
  row[2] = Value::Integer(pick(3));
  row[3] = Value::Integer(pick(10));
  row[4] = pick(5) == 0 ? Value::Null() : Value::Integer(pick(1000000) - 1000);
  row[5] = pick(20) == 0 ? Value::Null() : Value::Blob(payload);
  row[6] = pick(2) == 0 ? Value::Null() : Value::Text(prefix_ + std::to_string(label_counter_++));
  row[7] = pick(3) == 0 ? Value::Null() : Value::Real(static_cast<double>(pick(1000)) / 8);
  return row;
}

absl::Status Workload::Step(Transaction* txn, Model* model) {
  int op = static_cast<int>(rng_() % 10);
  if (model->empty() || op < 5) {
    Row row = RandomRow();
    absl::StatusOr<int64_t> id = txn->Insert("msgs", row);
    if (!id.ok()) return id.status();
    row[0] = Value::Integer(*id);
    (*model)[*id] = row;
    return absl::OkStatus();
  }
  auto it = model->begin();
  std::advance(it, static_cast<long>(rng_() % model->size()));
  int64_t id = it->first;
  if (op < 8) {
    Row row = RandomRow();
    row[0] = Value::Integer(id);
    if (rng_() % 2) row[6] = it->second[6];  // keep the label sometimes
    absl::Status s = txn->Update("msgs", id, row);
    if (s.ok()) it->second = row;
    return s;
  }
  absl::StatusOr<bool> gone = txn->Delete("msgs", id);
  if (!gone.ok()) return gone.status();
  REQUIRE(*gone);
  model->erase(it);
  return absl::OkStatus();
}

std::vector<int64_t> ModelIndexOrder(const Model& model, const IndexDef& index) {
  return ModelIndexOrder(model, MsgsTable(), index);
}

std::vector<int64_t> ModelIndexOrder(const Model& model, const TableDef& t, const IndexDef& index) {
  const int id = t.rowid_column;
  std::vector<const Row*> rows;
  for (const auto& [id, row] : model) {
    if (index.where != PartialPredicate::kNone) {
      bool is_null = row[t.ColumnIndex(index.where_column)].is_null();
      if (is_null != (index.where == PartialPredicate::kIsNull)) continue;
    }
    rows.push_back(&row);
  }
  std::vector<std::pair<int, bool>> cols;
  for (const IndexColumn& c : index.columns) cols.emplace_back(t.ColumnIndex(c.name), c.desc);
  std::sort(rows.begin(), rows.end(), [&](const Row* a, const Row* b) {
    for (const auto& [col, desc] : cols) {
      int cmp = CompareValues((*a)[col], (*b)[col]);
      if (cmp != 0) return desc ? cmp > 0 : cmp < 0;
    }
    return (*a)[id].integer() < (*b)[id].integer();
  });
  std::vector<int64_t> ids;
  ids.reserve(rows.size());
  for (const Row* r : rows) ids.push_back((*r)[id].integer());
  return ids;
}

namespace {

// REQUIREs got == model rows, reporting the first difference.
void RequireRows(const std::vector<Row>& got, const Model& model, const char* who) {
  std::vector<Row> want;
  want.reserve(model.size());
  for (const auto& [id, row] : model) want.push_back(row);
  if (got == want) return;
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  FAIL(who << ": " << got.size() << " rows, model " << want.size() << "; first difference at " << i
           << ": got " << (i < got.size() ? RowString(got[i]) : "<end>") << " want "
           << (i < want.size() ? RowString(want[i]) : "<end>"));
}

// SELECT <rowid> FROM <table> INDEXED BY <index> [WHERE <partial>] ORDER BY <index order>.
std::string SqliteIndexQuery(const TableDef& table, const IndexDef& index) {
  const std::string& id = table.columns[table.rowid_column].name;
  std::string sql = "SELECT " + id + " FROM " + table.name + " INDEXED BY " + index.name;
  if (index.where != PartialPredicate::kNone) {
    sql += " WHERE " + index.where_column +
           (index.where == PartialPredicate::kIsNull ? " IS NULL" : " IS NOT NULL");
  }
  sql += " ORDER BY ";
  for (const IndexColumn& c : index.columns) sql += c.name + (c.desc ? " DESC, " : ", ");
  return sql + id;
}

}  // namespace

void CheckEngine(Database* db, const TableDef& table, const std::vector<IndexDef>& indexes,
                 const Model& model) {
  RequireRows(EngineRows(db, table.name), model, "engine");
  auto txn = db->Begin();
  REQUIRE(txn.ok());
  for (const IndexDef& ix : indexes) {
    for (bool reverse : {false, true}) {
      IndexRange range;
      range.reverse = reverse;
      auto it = (*txn)->ScanIndex(ix.name, range);
      REQUIRE(it.ok());
      std::vector<int64_t> got;
      while ((*it)->Valid()) {
        got.push_back((*it)->rowid());
        auto s = (*it)->Next();
        if (!s.ok()) FAIL(s.ToString());
      }
      std::vector<int64_t> want = ModelIndexOrder(model, table, ix);
      if (reverse) std::reverse(want.begin(), want.end());
      INFO("index " << ix.name << " reverse " << reverse);
      REQUIRE(got == want);
    }
  }
  auto count = (*txn)->Count(table.name);
  REQUIRE(count.ok());
  REQUIRE(*count == static_cast<int64_t>(model.size()));
  (*txn)->Rollback();
}

void CheckSqlite(const std::string& path, const TableDef& table,
                 const std::vector<IndexDef>& indexes, const Model& model) {
  REQUIRE(SqliteIntegrity(path) == "ok");
  const std::string& id = table.columns[table.rowid_column].name;
  RequireRows(SqliteQuery(path, "SELECT * FROM " + table.name + " ORDER BY " + id), model,
              "sqlite3");
  for (const IndexDef& ix : indexes) {
    const std::string sql = SqliteIndexQuery(table, ix);
    std::vector<int64_t> got;
    for (const auto& r : SqliteQuery(path, sql)) got.push_back(r[0].integer());
    INFO("sqlite index query " << sql);
    REQUIRE(got == ModelIndexOrder(model, table, ix));
  }
}

void CheckEngine(Database* db, const Model& model) {
  CheckEngine(db, MsgsTable(), MsgsIndexes(), model);
}

void CheckSqlite(const std::string& path, const Model& model) {
  CheckSqlite(path, MsgsTable(), MsgsIndexes(), model);
}

}  // namespace pgqrs::engine::testing
