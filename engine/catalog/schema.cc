#include "engine/catalog/schema.h"

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"

namespace pgqrs::engine {
namespace {

const char* TypeName(ColumnType t) {
  switch (t) {
    case ColumnType::kInteger:
      return "INTEGER";
    case ColumnType::kText:
      return "TEXT";
    case ColumnType::kBlob:
      return "BLOB";
    case ColumnType::kReal:
      return "REAL";
    case ColumnType::kAny:
      return "";
  }
  return "";
}

// Names are quoted in generated SQL, so any text works except control characters (kept out
// of the schema text) and SQLite's reserved "sqlite_" prefix.
bool ValidName(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return !absl::StartsWithIgnoreCase(s, "sqlite_");
}

// SQLite's identifier quoting: double quotes, embedded double quotes doubled. Always quoting
// keeps reserved words (a table named "order") valid SQL.
std::string Quote(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    out.push_back(c);
    if (c == '"') out.push_back('"');
  }
  out.push_back('"');
  return out;
}

// Tokens: identifiers/keywords (quoted identifiers keep their text) and punctuation.
struct Token {
  std::string text;
  bool quoted = false;
};

absl::StatusOr<std::vector<Token>> Tokenize(std::string_view sql) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < sql.size()) {
    char c = sql[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '(' || c == ')' || c == ',' || c == ';') {
      out.push_back({std::string(1, c), false});
      ++i;
    } else if (c == '"' || c == '`' || c == '[') {
      char close = c == '[' ? ']' : c;
      std::string id;
      ++i;
      for (;;) {
        if (i >= sql.size()) return absl::InvalidArgumentError("unterminated identifier");
        if (sql[i] == close) {
          if (close != ']' && i + 1 < sql.size() && sql[i + 1] == close) {
            id.push_back(close);
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        id.push_back(sql[i++]);
      }
      out.push_back({id, true});
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < sql.size() &&
             (std::isalnum(static_cast<unsigned char>(sql[j])) || sql[j] == '_' || sql[j] == '$')) {
        ++j;
      }
      out.push_back({std::string(sql.substr(i, j - i)), false});
      i = j;
    } else {
      return absl::UnimplementedError(
          absl::StrCat("unsupported SQL character '", std::string(1, c), "'"));
    }
  }
  return out;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> t) : t_(std::move(t)) {}
  bool AtEnd() const { return pos_ >= t_.size() || (t_[pos_].text == ";" && !t_[pos_].quoted); }
  bool Peek(std::string_view kw) const {
    return pos_ < t_.size() && !t_[pos_].quoted &&
           absl::EqualsIgnoreCase(t_[pos_].text, absl::string_view(kw.data(), kw.size()));
  }
  bool Accept(std::string_view kw) {
    if (!Peek(kw)) return false;
    ++pos_;
    return true;
  }
  absl::Status Expect(std::string_view kw) {
    if (Accept(kw)) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat("expected ", std::string(kw)));
  }
  absl::StatusOr<std::string> Name() {
    if (pos_ >= t_.size()) return absl::InvalidArgumentError("expected a name");
    const Token& tok = t_[pos_];
    if (!tok.quoted && (tok.text == "(" || tok.text == ")" || tok.text == "," || tok.text == ";")) {
      return absl::InvalidArgumentError("expected a name");
    }
    ++pos_;
    return tok.text;
  }

 private:
  std::vector<Token> t_;
  size_t pos_ = 0;
};

absl::Status ParseColumn(Parser* p, TableDef* def) {
  ColumnDef col;
  // Unquoted, these words start a table constraint; quoted, they are column names.
  if (p->Peek("PRIMARY") || p->Peek("UNIQUE") || p->Peek("CONSTRAINT") || p->Peek("CHECK") ||
      p->Peek("FOREIGN")) {
    return absl::UnimplementedError("table constraints are not supported");
  }
  PGQRS_ASSIGN_OR_RETURN(col.name, p->Name());
  col.type = ColumnType::kAny;
  bool integer_type = false;
  if (p->Accept("INTEGER")) {
    col.type = ColumnType::kInteger;
    integer_type = true;
  } else if (p->Accept("TEXT")) {
    col.type = ColumnType::kText;
  } else if (p->Accept("BLOB")) {
    col.type = ColumnType::kBlob;
  } else if (p->Accept("REAL")) {
    col.type = ColumnType::kReal;
  }
  while (!p->AtEnd() && !p->Peek(",") && !p->Peek(")")) {
    if (p->Accept("PRIMARY")) {
      PGQRS_RETURN_IF_ERROR(p->Expect("KEY"));
      if (p->Peek("DESC") || !integer_type || def->rowid_column >= 0) {
        return absl::UnimplementedError("only INTEGER PRIMARY KEY [ASC] is supported");
      }
      p->Accept("ASC");
      def->rowid_column = static_cast<int>(def->columns.size());
      if (p->Accept("AUTOINCREMENT")) def->autoincrement = true;
    } else if (p->Accept("NOT")) {
      PGQRS_RETURN_IF_ERROR(p->Expect("NULL"));
      col.not_null = true;
    } else {
      return absl::UnimplementedError("unsupported column definition in " + col.name);
    }
  }
  def->columns.push_back(std::move(col));
  return absl::OkStatus();
}

}  // namespace

int TableDef::ColumnIndex(std::string_view name) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (absl::EqualsIgnoreCase(columns[i].name, absl::string_view(name.data(), name.size())))
      return static_cast<int>(i);
  }
  return -1;
}

std::string CreateTableSql(const TableDef& def) {
  std::string sql = absl::StrCat("CREATE TABLE ", Quote(def.name), "(");
  for (size_t i = 0; i < def.columns.size(); ++i) {
    const ColumnDef& c = def.columns[i];
    if (i > 0) sql += ", ";
    sql += Quote(c.name);
    if (c.type != ColumnType::kAny) absl::StrAppend(&sql, " ", TypeName(c.type));
    if (static_cast<int>(i) == def.rowid_column) {
      sql += " PRIMARY KEY";
      if (def.autoincrement) sql += " AUTOINCREMENT";
    }
    if (c.not_null) sql += " NOT NULL";
  }
  return sql + ")";
}

std::string CreateIndexSql(const IndexDef& def) {
  std::string sql = absl::StrCat("CREATE ", def.unique ? "UNIQUE " : "", "INDEX ", Quote(def.name),
                                 " ON ", Quote(def.table), "(");
  for (size_t i = 0; i < def.columns.size(); ++i) {
    if (i > 0) sql += ", ";
    sql += Quote(def.columns[i].name);
    if (def.columns[i].desc) sql += " DESC";
  }
  sql += ")";
  if (def.where == PartialPredicate::kIsNull)
    absl::StrAppend(&sql, " WHERE ", Quote(def.where_column), " IS NULL");
  if (def.where == PartialPredicate::kIsNotNull) {
    absl::StrAppend(&sql, " WHERE ", Quote(def.where_column), " IS NOT NULL");
  }
  return sql;
}

absl::Status ValidateTableDef(const TableDef& def) {
  if (!ValidName(def.name)) return absl::InvalidArgumentError("bad table name: " + def.name);
  if (def.columns.empty()) return absl::InvalidArgumentError("table has no columns");
  for (size_t i = 0; i < def.columns.size(); ++i) {
    if (!ValidName(def.columns[i].name)) {
      return absl::InvalidArgumentError("bad column name: " + def.columns[i].name);
    }
    if (def.ColumnIndex(def.columns[i].name) != static_cast<int>(i)) {
      return absl::InvalidArgumentError("duplicate column: " + def.columns[i].name);
    }
  }
  if (def.rowid_column >= static_cast<int>(def.columns.size())) {
    return absl::InvalidArgumentError("rowid column out of range");
  }
  if (def.rowid_column >= 0 && def.columns[def.rowid_column].type != ColumnType::kInteger) {
    return absl::InvalidArgumentError("the rowid alias must be an INTEGER column");
  }
  if (def.autoincrement && def.rowid_column < 0) {
    return absl::InvalidArgumentError("AUTOINCREMENT needs an INTEGER PRIMARY KEY");
  }
  return absl::OkStatus();
}

absl::Status ValidateIndexDef(const IndexDef& def, const TableDef& table) {
  if (!ValidName(def.name)) return absl::InvalidArgumentError("bad index name: " + def.name);
  if (def.columns.empty()) return absl::InvalidArgumentError("index has no columns");
  for (const IndexColumn& c : def.columns) {
    if (table.ColumnIndex(c.name) < 0) return absl::InvalidArgumentError("no column " + c.name);
  }
  if (def.where != PartialPredicate::kNone && table.ColumnIndex(def.where_column) < 0) {
    return absl::InvalidArgumentError("no column " + def.where_column);
  }
  return absl::OkStatus();
}

absl::StatusOr<TableDef> ParseCreateTable(std::string_view sql) {
  PGQRS_ASSIGN_OR_RETURN(std::vector<Token> toks, Tokenize(sql));
  Parser p(std::move(toks));
  PGQRS_RETURN_IF_ERROR(p.Expect("CREATE"));
  if (p.Peek("TEMP") || p.Peek("TEMPORARY") || p.Peek("VIRTUAL")) {
    return absl::UnimplementedError("unsupported CREATE kind");
  }
  PGQRS_RETURN_IF_ERROR(p.Expect("TABLE"));
  if (p.Accept("IF")) {
    PGQRS_RETURN_IF_ERROR(p.Expect("NOT"));
    PGQRS_RETURN_IF_ERROR(p.Expect("EXISTS"));
  }
  TableDef def;
  PGQRS_ASSIGN_OR_RETURN(def.name, p.Name());
  PGQRS_RETURN_IF_ERROR(p.Expect("("));
  do {
    PGQRS_RETURN_IF_ERROR(ParseColumn(&p, &def));
  } while (p.Accept(","));
  PGQRS_RETURN_IF_ERROR(p.Expect(")"));
  if (!p.AtEnd()) return absl::UnimplementedError("unsupported table options");
  return def;
}

absl::StatusOr<IndexDef> ParseCreateIndex(std::string_view sql) {
  PGQRS_ASSIGN_OR_RETURN(std::vector<Token> toks, Tokenize(sql));
  Parser p(std::move(toks));
  IndexDef def;
  PGQRS_RETURN_IF_ERROR(p.Expect("CREATE"));
  def.unique = p.Accept("UNIQUE");
  PGQRS_RETURN_IF_ERROR(p.Expect("INDEX"));
  if (p.Accept("IF")) {
    PGQRS_RETURN_IF_ERROR(p.Expect("NOT"));
    PGQRS_RETURN_IF_ERROR(p.Expect("EXISTS"));
  }
  PGQRS_ASSIGN_OR_RETURN(def.name, p.Name());
  PGQRS_RETURN_IF_ERROR(p.Expect("ON"));
  PGQRS_ASSIGN_OR_RETURN(def.table, p.Name());
  PGQRS_RETURN_IF_ERROR(p.Expect("("));
  do {
    IndexColumn c;
    PGQRS_ASSIGN_OR_RETURN(c.name, p.Name());
    if (p.Accept("DESC")) {
      c.desc = true;
    } else {
      p.Accept("ASC");
    }
    def.columns.push_back(std::move(c));
  } while (p.Accept(","));
  PGQRS_RETURN_IF_ERROR(p.Expect(")"));
  if (p.Accept("WHERE")) {
    PGQRS_ASSIGN_OR_RETURN(def.where_column, p.Name());
    PGQRS_RETURN_IF_ERROR(p.Expect("IS"));
    def.where = p.Accept("NOT") ? PartialPredicate::kIsNotNull : PartialPredicate::kIsNull;
    PGQRS_RETURN_IF_ERROR(p.Expect("NULL"));
  }
  if (!p.AtEnd()) return absl::UnimplementedError("unsupported index clause");
  return def;
}

}  // namespace pgqrs::engine
