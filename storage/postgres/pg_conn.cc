#include "storage/postgres/pg_conn.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"

namespace pgqrs::storage::pg {
namespace {

constexpr char kRedacted[] = "***";

// The raw user-info password of a URI (still percent-encoded), if any.
std::string UriPassword(const std::string& conninfo) {
  size_t scheme_end = conninfo.find("://");
  if (scheme_end == std::string::npos) return "";
  size_t start = scheme_end + 3;
  size_t at = conninfo.find('@', start);
  size_t slash = conninfo.find('/', start);
  if (at == std::string::npos || (slash != std::string::npos && slash < at)) return "";
  size_t colon = conninfo.find(':', start);
  if (colon == std::string::npos || colon > at) return "";
  return conninfo.substr(colon + 1, at - colon - 1);
}

std::string ArrayElement(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

// FNV-1a, so a statement's name changes whenever its text does: a pooler that shares
// server connections between clients can then never run a same-named different query.
uint32_t Fnv1a(const char* text) {
  uint32_t hash = 2166136261u;
  for (const char* p = text; *p != '\0'; ++p) {
    hash ^= static_cast<unsigned char>(*p);
    hash *= 16777619u;
  }
  return hash;
}

std::string PreparedName(const Statement& statement) {
  return absl::StrCat("pgqrs_", statement.name, "_", absl::Hex(Fnv1a(statement.sql)));
}

}  // namespace

Redactor::Redactor(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (error != nullptr) PQfreemem(error);
  if (options != nullptr) {
    for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
      if (o->val != nullptr && std::strcmp(o->keyword, "password") == 0 && *o->val != '\0') {
        secrets_.push_back(o->val);
      }
    }
    PQconninfoFree(options);
  }
  std::string raw = UriPassword(conninfo);
  if (!raw.empty()) secrets_.push_back(raw);
  // Longest first, so a secret containing another is replaced whole.
  std::sort(secrets_.begin(), secrets_.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

std::string Redactor::Apply(std::string text) const {
  for (const std::string& secret : secrets_) {
    absl::StrReplaceAll({{secret, kRedacted}}, &text);
  }
  return text;
}

// ---- Params -----------------------------------------------------------------------------

Params& Params::Add(int64_t value) {
  values_.push_back(absl::StrCat(value));
  return *this;
}

Params& Params::Add(const std::string& value) {
  values_.push_back(value);
  return *this;
}

Params& Params::AddNull() {
  values_.push_back(std::nullopt);
  return *this;
}

Params& Params::Add(absl::Duration value) { return Add(absl::ToInt64Microseconds(value)); }

Params& Params::AddArray(const std::vector<int64_t>& values) {
  values_.push_back(absl::StrCat("{", absl::StrJoin(values, ","), "}"));
  return *this;
}

Params& Params::AddArray(const std::vector<int32_t>& values) {
  values_.push_back(absl::StrCat("{", absl::StrJoin(values, ","), "}"));
  return *this;
}

Params& Params::AddArray(const std::vector<std::optional<std::string>>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += values[i].has_value() ? ArrayElement(*values[i]) : "NULL";
  }
  out.push_back('}');
  values_.push_back(std::move(out));
  return *this;
}

std::vector<const char*> Params::Pointers() const {
  std::vector<const char*> out;
  out.reserve(values_.size());
  for (const auto& v : values_) out.push_back(v.has_value() ? v->c_str() : nullptr);
  return out;
}

// ---- Rows -------------------------------------------------------------------------------

std::string Rows::Text(int row, int col) const {
  return std::string(PQgetvalue(result_.get(), row, col), PQgetlength(result_.get(), row, col));
}

int64_t Rows::Int(int row, int col) const {
  if (IsNull(row, col)) return 0;
  return std::strtoll(PQgetvalue(result_.get(), row, col), nullptr, 10);
}

bool Rows::Bool(int row, int col) const {
  return !IsNull(row, col) && PQgetvalue(result_.get(), row, col)[0] == 't';
}

absl::Time Rows::Time(int row, int col) const { return absl::FromUnixMicros(Int(row, col)); }

std::optional<absl::Time> Rows::OptionalTime(int row, int col) const {
  if (IsNull(row, col)) return std::nullopt;
  return Time(row, col);
}

int64_t Rows::Affected() const { return std::strtoll(PQcmdTuples(result_.get()), nullptr, 10); }

// ---- Errors -----------------------------------------------------------------------------

absl::Status PgErrorToStatus(const PGresult* result, PGconn* conn, const Redactor& redactor) {
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = result ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string message = redactor.Apply(std::string(absl::StripAsciiWhitespace(
      primary != nullptr ? primary : (conn != nullptr ? PQerrorMessage(conn) : "no result"))));
  std::string code = state != nullptr ? state : "";
  bool lost = conn == nullptr || PQstatus(conn) == CONNECTION_BAD;
  if (lost || code.empty() || absl::StartsWith(code, "08") || code == "57P01" || code == "57P02" ||
      code == "57P03" || code == "53300") {
    return absl::UnavailableError(absl::StrCat("postgres unavailable: ", message));
  }
  if (code == "23505") return absl::AlreadyExistsError(message);
  if (code == "57014") {  // statement_timeout; the call may be retried
    return absl::UnavailableError(absl::StrCat("postgres: ", message));
  }
  if (code == "40001" || code == "40P01") {
    return absl::AbortedError(absl::StrCat("postgres: ", message));
  }
  if (code == "26000" || code == "42P05") {
    return absl::InternalError(absl::StrCat(kPreparedStatementLost, ": ", message));
  }
  if (code == "XX001" || code == "XX002") {
    return absl::DataLossError(absl::StrCat("postgres: ", message));
  }
  if (absl::StartsWith(code, "22")) return absl::InvalidArgumentError(message);
  if (code == "23503" || code == "23514") return absl::FailedPreconditionError(message);
  return absl::InternalError(absl::StrCat("postgres error ", code, ": ", message));
}

bool IsPreparedStatementLost(const absl::Status& status) {
  return status.code() == absl::StatusCode::kInternal &&
         absl::StartsWith(status.message(), kPreparedStatementLost);
}

absl::Status ValidateSchemaName(const std::string& name) {
  bool ok =
      !name.empty() && name.size() <= 63 && (name[0] == '_' || (name[0] >= 'a' && name[0] <= 'z'));
  for (char c : name) {
    ok = ok && (c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("invalid schema name \"", name.substr(0, 80),
                                                 "\": expected [a-z_][a-z0-9_]{0,62}"));
}

std::string QuoteIdentifier(const std::string& name) {
  return absl::StrCat("\"", absl::StrReplaceAll(name, {{"\"", "\"\""}}), "\"");
}

// ---- PgConn -----------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<PgConn>> PgConn::Connect(const ConnSettings& settings,
                                                        const Redactor& redactor) {
  std::string timeout = absl::StrCat(settings.connect_timeout_seconds);
  // Ours come first: the DSN (dbname, expanded last) overrides them.
  const char* keywords[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {timeout.c_str(), settings.application_name.c_str(),
                          settings.conninfo.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (conn == nullptr) return absl::ResourceExhaustedError("postgres: out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message =
        redactor.Apply(std::string(absl::StripAsciiWhitespace(PQerrorMessage(conn))));
    PQfinish(conn);
    return absl::UnavailableError(absl::StrCat("postgres connect failed: ", message));
  }
  // Notices ("schema already exists, skipping") are expected chatter, not for stderr.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<PgConn>(new PgConn(conn, redactor));
}

PgConn::~PgConn() { PQfinish(conn_); }

bool PgConn::broken() const { return abandoned_ || PQstatus(conn_) != CONNECTION_OK; }

absl::StatusOr<Rows> PgConn::Check(PGresult* result) {
  ExecStatusType status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return Rows(result);
  absl::Status error = PgErrorToStatus(result, conn_, redactor_);
  if (result != nullptr) PQclear(result);
  return error;
}

absl::Status PgConn::Exec(const std::string& sql) {
  // PQexec returns the last statement's result; an earlier failure stops the string.
  return Check(PQexec(conn_, sql.c_str())).status();
}

absl::StatusOr<Rows> PgConn::Query(const Statement& statement, const Params& params,
                                   StatementMode mode) {
  std::vector<const char*> values = params.Pointers();
  if (mode == StatementMode::kUnnamed) {
    return Check(PQexecParams(conn_, statement.sql, params.size(), nullptr, values.data(), nullptr,
                              nullptr, 0));
  }
  std::string name = PreparedName(statement);
  if (!prepared_.contains(name)) {
    absl::StatusOr<Rows> prepared =
        Check(PQprepare(conn_, name.c_str(), statement.sql, params.size(), nullptr));
    if (!prepared.ok()) return prepared.status();
    prepared_.insert(name);
  }
  return Check(
      PQexecPrepared(conn_, name.c_str(), params.size(), values.data(), nullptr, nullptr, 0));
}

absl::StatusOr<Rows> PgConn::QueryText(const std::string& sql, const Params& params) {
  std::vector<const char*> values = params.Pointers();
  return Check(
      PQexecParams(conn_, sql.c_str(), params.size(), nullptr, values.data(), nullptr, nullptr, 0));
}

// ---- Pipelined flights ----------------------------------------------------------------

absl::StatusOr<Rows> PgConn::Flight(std::span<const FlightStatement> statements, StatementMode mode,
                                    std::span<const FlightStatement> follow_up) {
  if (PQenterPipelineMode(conn_) != 1) return Check(nullptr).status();
  std::vector<std::string> commands;
  bool sent = true;
  for (const FlightStatement& statement : statements) {
    sent = sent && SendInFlight(statement, mode, commands);
  }
  sent = sent && PQpipelineSync(conn_) == 1;
  size_t counted = commands.size();
  int syncs = 1;
  if (!follow_up.empty()) {
    for (const FlightStatement& statement : follow_up) {
      sent = sent && SendInFlight(statement, mode, commands);
    }
    sent = sent && PQpipelineSync(conn_) == 1;
    ++syncs;
  }
  if (!sent) {
    // Part of the flight may be queued without its Sync; the server must never run it.
    abandoned_ = true;
    return Check(nullptr).status();
  }
  absl::StatusOr<Rows> rows = ReadFlight(commands, counted, syncs);
  if (PQexitPipelineMode(conn_) != 1) abandoned_ = true;
  return rows;
}

bool PgConn::SendInFlight(const FlightStatement& flight, StatementMode mode,
                          std::vector<std::string>& commands) {
  std::vector<const char*> values = flight.params.Pointers();
  int n = flight.params.size();
  if (mode == StatementMode::kUnnamed) {
    commands.emplace_back();
    return PQsendQueryParams(conn_, flight.statement.sql, n, nullptr, values.data(), nullptr,
                             nullptr, 0) == 1;
  }
  std::string name = PreparedName(flight.statement);
  bool preparing = std::find(commands.begin(), commands.end(), name) != commands.end();
  if (!prepared_.contains(name) && !preparing) {
    commands.push_back(name);
    if (PQsendPrepare(conn_, name.c_str(), flight.statement.sql, n, nullptr) != 1) return false;
  }
  commands.emplace_back();
  return PQsendQueryPrepared(conn_, name.c_str(), n, values.data(), nullptr, nullptr, 0) == 1;
}

absl::StatusOr<Rows> PgConn::ReadFlight(const std::vector<std::string>& commands, size_t counted,
                                        int syncs) {
  absl::Status first_error;
  std::optional<Rows> last;
  bool committed = false;  // the first Sync's result came: the statements' commit is done
  size_t command = 0;      // whose results come next; each command's end is a null result
  bool after_end = false;  // the last result was a command's end
  while (syncs > 0) {
    PGresult* result = PQgetResult(conn_);
    if (result == nullptr) {
      if (broken()) break;
      if (after_end) {  // two ends in a row: nothing more is coming, a Sync result is missing
        abandoned_ = true;
        break;
      }
      after_end = true;
      ++command;
      continue;
    }
    after_end = false;
    ExecStatusType status = PQresultStatus(result);
    if (status == PGRES_PIPELINE_SYNC) {
      // A failed commit adds a result of its own; the follow-up's commands come next.
      --syncs;
      committed = true;
      command = counted;
    }
    if (status == PGRES_PIPELINE_SYNC || status == PGRES_PIPELINE_ABORTED) {
      PQclear(result);  // a Sync, or a command skipped after an earlier failure
      continue;
    }
    absl::StatusOr<Rows> rows = Check(result);
    if (!rows.ok()) {
      // Before the first Sync's result, a failure is the statements' own or their commit's
      // (a deferred check, or the server going away while it commits).
      if (first_error.ok() && !committed) first_error = rows.status();
    } else if (command < commands.size() && !commands[command].empty()) {
      prepared_.insert(commands[command]);
    } else if (command < counted) {
      last = *std::move(rows);
    }
  }
  if (!first_error.ok()) return first_error;
  // Rows without the Sync's result: the connection broke before the commit was confirmed,
  // so whether it happened is unknown. Never report it done.
  if (!committed || !last.has_value()) return Check(nullptr).status();
  return *std::move(last);
}

bool PgConn::StillOpen() {
  // Reading never blocks here. A server that went away has left a goodbye message and
  // then end-of-file: the first read takes the message, the second sees the end.
  for (int i = 0; i < 2; ++i) {
    if (PQconsumeInput(conn_) != 1) return false;
  }
  return !broken();
}

}  // namespace pgqrs::storage::pg
