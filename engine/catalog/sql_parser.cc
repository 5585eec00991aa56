// Parsers for the engine's SQL subset: single CREATE statements (schema.h) and schema scripts
// (script.h).
#include <cctype>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/catalog/schema.h"
#include "engine/catalog/script.h"

namespace pgqrs::engine {
namespace {

struct Token {
  enum class Kind { kWord, kQuoted, kString, kNumber, kPunct };
  Kind kind = Kind::kWord;
  std::string text;
};

bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Skips a `--` or `/* */` comment starting at `i`; returns false if there is none.
bool SkipComment(std::string_view sql, size_t* i) {
  if (sql.substr(*i, 2) == "--") {
    size_t eol = sql.find('\n', *i);
    *i = eol == std::string_view::npos ? sql.size() : eol + 1;
    return true;
  }
  if (sql.substr(*i, 2) == "/*") {
    size_t close = sql.find("*/", *i + 2);
    *i = close == std::string_view::npos ? sql.size() : close + 2;
    return true;
  }
  return false;
}

// A quoted identifier ("x", `x`, [x]) or a string literal ('x'); doubled quotes escape.
absl::StatusOr<std::string> ReadQuoted(std::string_view sql, size_t* i) {
  char close = sql[*i] == '[' ? ']' : sql[*i];
  std::string text;
  ++*i;
  for (;;) {
    if (*i >= sql.size()) return absl::InvalidArgumentError("unterminated quoted text");
    if (sql[*i] == close) {
      if (close != ']' && *i + 1 < sql.size() && sql[*i + 1] == close) {
        text.push_back(close);
        *i += 2;
        continue;
      }
      ++*i;
      return text;
    }
    text.push_back(sql[(*i)++]);
  }
}

absl::StatusOr<std::vector<Token>> Tokenize(std::string_view sql) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < sql.size()) {
    char c = sql[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (SkipComment(sql, &i)) {
      continue;
    } else if (c == '(' || c == ')' || c == ',' || c == ';') {
      out.push_back({Token::Kind::kPunct, std::string(1, c)});
      ++i;
    } else if (c == '"' || c == '`' || c == '[' || c == '\'') {
      PGQRS_ASSIGN_OR_RETURN(std::string text, ReadQuoted(sql, &i));
      out.push_back({c == '\'' ? Token::Kind::kString : Token::Kind::kQuoted, std::move(text)});
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               (c == '-' && i + 1 < sql.size() &&
                std::isdigit(static_cast<unsigned char>(sql[i + 1])))) {
      size_t j = i + 1;
      while (j < sql.size() && std::isdigit(static_cast<unsigned char>(sql[j]))) ++j;
      if (j < sql.size() && (IsWordChar(sql[j]) || sql[j] == '.')) {
        return absl::UnimplementedError("only integer numbers are supported");
      }
      out.push_back({Token::Kind::kNumber, std::string(sql.substr(i, j - i))});
      i = j;
    } else if (IsWordChar(c)) {
      size_t j = i;
      while (j < sql.size() && (IsWordChar(sql[j]) || sql[j] == '$')) ++j;
      out.push_back({Token::Kind::kWord, std::string(sql.substr(i, j - i))});
      i = j;
    } else {
      return absl::UnimplementedError(
          absl::StrCat("unsupported SQL character '", std::string(1, c), "'"));
    }
  }
  return out;
}

// A cursor over the tokens of one statement (no ';' inside).
class Parser {
 public:
  explicit Parser(std::vector<Token> t) : t_(std::move(t)) {}
  bool AtEnd() const { return pos_ >= t_.size(); }
  bool Peek(std::string_view kw) const {
    return pos_ < t_.size() &&
           (t_[pos_].kind == Token::Kind::kWord || t_[pos_].kind == Token::Kind::kPunct) &&
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
    if (pos_ >= t_.size() ||
        (t_[pos_].kind != Token::Kind::kWord && t_[pos_].kind != Token::Kind::kQuoted)) {
      return absl::InvalidArgumentError("expected a name");
    }
    return t_[pos_++].text;
  }
  // An integer, text or NULL literal.
  absl::StatusOr<Value> Literal() {
    if (Accept("NULL")) return Value::Null();
    if (pos_ >= t_.size()) return absl::InvalidArgumentError("expected a value");
    const Token& tok = t_[pos_];
    if (tok.kind == Token::Kind::kString) {
      ++pos_;
      return Value::Text(tok.text);
    }
    int64_t v = 0;
    if (tok.kind != Token::Kind::kNumber || !absl::SimpleAtoi(tok.text, &v)) {
      return absl::UnimplementedError(
          absl::StrCat("unsupported value \"", tok.text, "\": only integers, text and NULL"));
    }
    ++pos_;
    return Value::Integer(v);
  }
  // Accepts `IF NOT EXISTS`; returns whether it was there.
  absl::StatusOr<bool> IfNotExists() {
    if (!Accept("IF")) return false;
    PGQRS_RETURN_IF_ERROR(Expect("NOT"));
    PGQRS_RETURN_IF_ERROR(Expect("EXISTS"));
    return true;
  }

 private:
  std::vector<Token> t_;
  size_t pos_ = 0;
};

absl::Status ParseReferences(Parser* p, ColumnDef* col) {
  PGQRS_ASSIGN_OR_RETURN(col->references_table, p->Name());
  PGQRS_RETURN_IF_ERROR(p->Expect("("));
  PGQRS_ASSIGN_OR_RETURN(col->references_column, p->Name());
  PGQRS_RETURN_IF_ERROR(p->Expect(")"));
  if (p->Peek("ON") || p->Peek("MATCH") || p->Peek("DEFERRABLE")) {
    return absl::UnimplementedError("foreign key actions are not supported");
  }
  return absl::OkStatus();
}

absl::Status ParseColumn(Parser* p, TableDef* def) {
  ColumnDef col;
  for (const char* kw : {"PRIMARY", "UNIQUE", "CONSTRAINT", "CHECK", "FOREIGN"}) {
    if (p->Peek(kw)) return absl::UnimplementedError("table constraints are not supported");
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
    } else if (p->Accept("REFERENCES") && col.references_table.empty()) {
      PGQRS_RETURN_IF_ERROR(ParseReferences(p, &col));
    } else {
      return absl::UnimplementedError("unsupported column definition in " + col.name);
    }
  }
  def->columns.push_back(std::move(col));
  return absl::OkStatus();
}

// After CREATE.
absl::StatusOr<TableDef> ParseTableBody(Parser* p, bool* if_not_exists) {
  if (p->Peek("TEMP") || p->Peek("TEMPORARY") || p->Peek("VIRTUAL")) {
    return absl::UnimplementedError("unsupported CREATE kind");
  }
  PGQRS_RETURN_IF_ERROR(p->Expect("TABLE"));
  PGQRS_ASSIGN_OR_RETURN(*if_not_exists, p->IfNotExists());
  TableDef def;
  PGQRS_ASSIGN_OR_RETURN(def.name, p->Name());
  PGQRS_RETURN_IF_ERROR(p->Expect("("));
  do {
    PGQRS_RETURN_IF_ERROR(ParseColumn(p, &def));
  } while (p->Accept(","));
  PGQRS_RETURN_IF_ERROR(p->Expect(")"));
  if (!p->AtEnd()) return absl::UnimplementedError("unsupported table options");
  return def;
}

// After CREATE.
absl::StatusOr<IndexDef> ParseIndexBody(Parser* p, bool* if_not_exists) {
  IndexDef def;
  def.unique = p->Accept("UNIQUE");
  PGQRS_RETURN_IF_ERROR(p->Expect("INDEX"));
  PGQRS_ASSIGN_OR_RETURN(*if_not_exists, p->IfNotExists());
  PGQRS_ASSIGN_OR_RETURN(def.name, p->Name());
  PGQRS_RETURN_IF_ERROR(p->Expect("ON"));
  PGQRS_ASSIGN_OR_RETURN(def.table, p->Name());
  PGQRS_RETURN_IF_ERROR(p->Expect("("));
  do {
    IndexColumn c;
    PGQRS_ASSIGN_OR_RETURN(c.name, p->Name());
    if (p->Accept("DESC")) {
      c.desc = true;
    } else {
      p->Accept("ASC");
    }
    def.columns.push_back(std::move(c));
  } while (p->Accept(","));
  PGQRS_RETURN_IF_ERROR(p->Expect(")"));
  if (p->Accept("WHERE")) {
    PGQRS_ASSIGN_OR_RETURN(def.where_column, p->Name());
    PGQRS_RETURN_IF_ERROR(p->Expect("IS"));
    def.where = p->Accept("NOT") ? PartialPredicate::kIsNotNull : PartialPredicate::kIsNull;
    PGQRS_RETURN_IF_ERROR(p->Expect("NULL"));
  }
  if (!p->AtEnd()) return absl::UnimplementedError("unsupported index clause");
  return def;
}

// A parenthesised, comma-separated list, each element read by `item`.
template <typename F>
absl::Status ParseList(Parser* p, F item) {
  PGQRS_RETURN_IF_ERROR(p->Expect("("));
  do {
    PGQRS_RETURN_IF_ERROR(item());
  } while (p->Accept(","));
  return p->Expect(")");
}

// After INSERT.
absl::StatusOr<InsertStatement> ParseInsertBody(Parser* p) {
  InsertStatement insert;
  PGQRS_RETURN_IF_ERROR(p->Expect("INTO"));
  PGQRS_ASSIGN_OR_RETURN(insert.table, p->Name());
  PGQRS_RETURN_IF_ERROR(ParseList(p, [&]() -> absl::Status {
    PGQRS_ASSIGN_OR_RETURN(std::string column, p->Name());
    insert.columns.push_back(std::move(column));
    return absl::OkStatus();
  }));
  PGQRS_RETURN_IF_ERROR(p->Expect("VALUES"));
  do {
    std::vector<Value> row;
    PGQRS_RETURN_IF_ERROR(ParseList(p, [&]() -> absl::Status {
      PGQRS_ASSIGN_OR_RETURN(Value v, p->Literal());
      row.push_back(std::move(v));
      return absl::OkStatus();
    }));
    if (row.size() != insert.columns.size()) {
      return absl::InvalidArgumentError(absl::StrCat("INSERT INTO ", insert.table, ": ", row.size(),
                                                     " values for ", insert.columns.size(),
                                                     " columns"));
    }
    insert.rows.push_back(std::move(row));
  } while (p->Accept(","));
  if (!p->AtEnd()) return absl::UnimplementedError("unsupported INSERT clause");
  return insert;
}

absl::StatusOr<ScriptStatement> ParseStatement(Parser* p) {
  ScriptStatement st;
  if (p->Accept("INSERT")) {
    st.kind = ScriptStatement::Kind::kInsert;
    PGQRS_ASSIGN_OR_RETURN(st.insert, ParseInsertBody(p));
    return st;
  }
  if (!p->Accept("CREATE")) return absl::UnimplementedError("only CREATE and INSERT are supported");
  if (p->Peek("TABLE") || p->Peek("TEMP") || p->Peek("TEMPORARY") || p->Peek("VIRTUAL")) {
    st.kind = ScriptStatement::Kind::kCreateTable;
    PGQRS_ASSIGN_OR_RETURN(st.table, ParseTableBody(p, &st.if_not_exists));
    return st;
  }
  if (!p->Peek("UNIQUE") && !p->Peek("INDEX")) {
    return absl::UnimplementedError("only CREATE TABLE and CREATE INDEX are supported");
  }
  st.kind = ScriptStatement::Kind::kCreateIndex;
  PGQRS_ASSIGN_OR_RETURN(st.index, ParseIndexBody(p, &st.if_not_exists));
  return st;
}

// Splits the tokens of a script at each ';', dropping empty statements.
std::vector<std::vector<Token>> SplitStatements(std::vector<Token> tokens) {
  std::vector<std::vector<Token>> out(1);
  for (Token& t : tokens) {
    if (t.kind == Token::Kind::kPunct && t.text == ";") {
      if (!out.back().empty()) out.emplace_back();
    } else {
      out.back().push_back(std::move(t));
    }
  }
  if (out.back().empty()) out.pop_back();
  return out;
}

// The tokens of a single statement (an optional trailing ';').
absl::StatusOr<Parser> OneStatement(std::string_view sql) {
  PGQRS_ASSIGN_OR_RETURN(std::vector<Token> tokens, Tokenize(sql));
  std::vector<std::vector<Token>> statements = SplitStatements(std::move(tokens));
  if (statements.size() != 1) return absl::InvalidArgumentError("expected one statement");
  return Parser(std::move(statements[0]));
}

}  // namespace

absl::StatusOr<TableDef> ParseCreateTable(std::string_view sql) {
  PGQRS_ASSIGN_OR_RETURN(Parser p, OneStatement(sql));
  PGQRS_RETURN_IF_ERROR(p.Expect("CREATE"));
  bool if_not_exists = false;
  return ParseTableBody(&p, &if_not_exists);
}

absl::StatusOr<IndexDef> ParseCreateIndex(std::string_view sql) {
  PGQRS_ASSIGN_OR_RETURN(Parser p, OneStatement(sql));
  PGQRS_RETURN_IF_ERROR(p.Expect("CREATE"));
  bool if_not_exists = false;
  return ParseIndexBody(&p, &if_not_exists);
}

absl::StatusOr<std::vector<ScriptStatement>> ParseScript(std::string_view sql) {
  PGQRS_ASSIGN_OR_RETURN(std::vector<Token> tokens, Tokenize(sql));
  std::vector<ScriptStatement> out;
  for (std::vector<Token>& statement : SplitStatements(std::move(tokens))) {
    std::string head =
        statement.size() >= 3
            ? absl::StrCat(statement[0].text, " ", statement[1].text, " ", statement[2].text)
            : statement[0].text;
    Parser p(std::move(statement));
    absl::StatusOr<ScriptStatement> parsed = ParseStatement(&p);
    if (!parsed.ok()) {
      return absl::Status(parsed.status().code(),
                          absl::StrCat("statement ", out.size() + 1, " (", head,
                                       " ...): ", parsed.status().message()));
    }
    out.push_back(std::move(*parsed));
  }
  return out;
}

}  // namespace pgqrs::engine
