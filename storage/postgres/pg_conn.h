// One libpq connection and the small vocabulary the adapter speaks over it: text
// parameters, result rows, named statements, pipelined flights (several statements, one
// round trip) and the SQLSTATE -> absl::Status mapping.
//
// Thread safety: a PgConn is used by one thread at a time (the pool hands it out).
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace pgqrs::storage::pg {

// Replaces secrets (the DSN password, raw and URI-encoded, and the DSN itself) in text
// that came from libpq or the server, so no message we return or log can carry them.
class Redactor {
 public:
  Redactor() = default;
  // Collects the secrets of `conninfo` (a URI or key=value string).
  explicit Redactor(const std::string& conninfo);
  std::string Apply(std::string text) const;

 private:
  std::vector<std::string> secrets_;
};

// A statement the adapter runs often: prepared once per connection under a name derived
// from its text, unless the pool runs unnamed statements (PgBouncer < 1.21).
struct Statement {
  const char* name;
  const char* sql;
};

class Params;

// One statement of a pipelined flight (PgConn::Flight).
struct FlightStatement {
  const Statement& statement;
  const Params& params;
};

// Positional text parameters ($1, $2, ...). Arrays use PostgreSQL's text array syntax.
class Params {
 public:
  Params& Add(int64_t value);
  Params& Add(const std::string& value);
  Params& Add(const char* value) { return Add(std::string(value)); }
  Params& AddNull();
  Params& Add(absl::Duration value);  // as int8 microseconds
  Params& AddArray(const std::vector<int64_t>& values);
  Params& AddArray(const std::vector<int32_t>& values);
  // An empty optional is an SQL NULL element.
  Params& AddArray(const std::vector<std::optional<std::string>>& values);

  int size() const { return static_cast<int>(values_.size()); }
  std::vector<const char*> Pointers() const;

 private:
  std::vector<std::optional<std::string>> values_;
};

// A successful result. Timestamps are selected as int8 microseconds since the epoch
// (see sql.h), so the accessors never parse dates.
class Rows {
 public:
  explicit Rows(PGresult* result) : result_(result, &PQclear) {}
  int size() const { return PQntuples(result_.get()); }
  bool IsNull(int row, int col) const { return PQgetisnull(result_.get(), row, col) != 0; }
  std::string Text(int row, int col) const;
  int64_t Int(int row, int col) const;
  bool Bool(int row, int col) const;
  absl::Time Time(int row, int col) const;
  std::optional<absl::Time> OptionalTime(int row, int col) const;
  // Rows affected by an INSERT/UPDATE/DELETE without RETURNING.
  int64_t Affected() const;

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> result_;
};

// How statements are sent. kPrepared: named, prepared lazily per connection. kUnnamed:
// PQexecParams, safe through transaction-pooling PgBouncer 1.18.
enum class StatementMode { kPrepared, kUnnamed };

struct ConnSettings {
  std::string conninfo;  // secret-bearing; never printed
  int connect_timeout_seconds = 5;
  std::string application_name = "pgqrsd";
};

class PgConn {
 public:
  // UNAVAILABLE (redacted message) when the server cannot be reached or refuses us.
  static absl::StatusOr<std::unique_ptr<PgConn>> Connect(const ConnSettings& settings,
                                                         const Redactor& redactor);
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  // Runs a simple-protocol command string, possibly several statements, no parameters.
  absl::Status Exec(const std::string& sql);
  // Runs one statement with parameters.
  absl::StatusOr<Rows> Query(const Statement& statement, const Params& params, StatementMode mode);
  // Runs ad-hoc SQL with parameters as an unnamed statement.
  absl::StatusOr<Rows> QueryText(const std::string& sql, const Params& params);
  // Sends `statements` in pipeline mode followed by a Sync, then reads every result: one
  // round trip. Outside BEGIN they are one implicit transaction, committed at the Sync
  // when all succeed and rolled back when one fails. Returns the last statement's rows or
  // the first failure. `follow_up`, when not empty, goes out in the same flight as a
  // transaction of its own after that Sync: it runs whether or not the first committed,
  // and its failure is not the flight's. A flight that cannot be sent whole leaves the
  // connection broken.
  absl::StatusOr<Rows> Flight(std::span<const FlightStatement> statements, StatementMode mode,
                              std::span<const FlightStatement> follow_up = {});
  // Reads whatever the server sent while the connection sat idle: false when the server
  // has closed it (e.g. it restarted), before anything is sent on it.
  bool StillOpen();

  // True once the connection is unusable; the pool then drops it.
  bool broken() const;
  PGconn* raw() { return conn_; }
  // Forgets which statements are prepared (after the server lost them).
  void ForgetPrepared() { prepared_.clear(); }

 private:
  PgConn(PGconn* conn, const Redactor& redactor) : conn_(conn), redactor_(redactor) {}
  absl::StatusOr<Rows> Check(PGresult* result);
  // Queues one statement of a flight (and its Prepare, when named and new). Appends the
  // names of the statements it prepares, in send order, with "" for executions.
  bool SendInFlight(const FlightStatement& statement, StatementMode mode,
                    std::vector<std::string>& commands);
  // Reads a flight's results up to its `syncs`-th Sync result. `commands` as SendInFlight
  // built it; the first `counted` of them make the result.
  absl::StatusOr<Rows> ReadFlight(const std::vector<std::string>& commands, size_t counted,
                                  int syncs);

  PGconn* conn_;
  Redactor redactor_;
  std::set<std::string> prepared_;
  bool abandoned_ = false;  // a flight could not be sent whole: never reuse
};

// Maps a failed result (or, with result == nullptr, a failed connection) to a status.
//   23505 -> ALREADY_EXISTS; 40001, 40P01 -> ABORTED; class 08, 57P01-57P03, 53300,
//   57014 (statement timeout) and a lost connection -> UNAVAILABLE; 26000, 42P05 (prepared
//   statements lost or shared by a pooler) -> INTERNAL with kPreparedStatementLost in the message;
//   XX001, XX002 -> DATA_LOSS; class 22 -> INVALID_ARGUMENT; anything else INTERNAL.
absl::Status PgErrorToStatus(const PGresult* result, PGconn* conn, const Redactor& redactor);

inline constexpr char kPreparedStatementLost[] = "prepared statement lost";
bool IsPreparedStatementLost(const absl::Status& status);

// Schema names: [a-z_][a-z0-9_]{0,62}. INVALID_ARGUMENT otherwise.
absl::Status ValidateSchemaName(const std::string& name);
// "name" with embedded quotes doubled (callers validate first; this is belt and braces).
std::string QuoteIdentifier(const std::string& name);

}  // namespace pgqrs::storage::pg
