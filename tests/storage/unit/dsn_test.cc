#include "storage/dsn.h"

#include <catch2/catch.hpp>

namespace pgqrs::storage {
namespace {

TEST_CASE("file DSNs give a path or memory", "[storage][dsn]") {
  Dsn abs = *ParseDsn("sqlite:///var/lib/pgqrs/q.db?synchronous=normal");
  CHECK(abs.backend == Backend::kSqlite);
  CHECK(abs.path == "/var/lib/pgqrs/q.db");
  CHECK(abs.options.at("synchronous") == "normal");
  CHECK(ParseDsn("sqlite://./pgqrs.db")->path == "./pgqrs.db");
  CHECK(ParseDsn("engine::memory:")->in_memory);
  CHECK(ParseDsn("engine:///x.db")->backend == Backend::kEngine);
  CHECK(ParseDsn("sqlite:").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ParseDsn("sqlite://").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ParseDsn("mysql://x").status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("postgres DSNs keep pgqrs options out of libpq's conninfo", "[storage][dsn]") {
  Dsn pg = *ParseDsn("postgres://app:s3cret@db:5432/queues?schema=jobs&sslmode=require");
  CHECK(pg.backend == Backend::kPostgres);
  CHECK(pg.options.at("schema") == "jobs");
  CHECK(pg.conninfo == "postgres://app:s3cret@db:5432/queues?sslmode=require");
}

TEST_CASE("redaction hides every password form", "[storage][dsn]") {
  CHECK(RedactDsn("postgres://app:s3cret@db/q") == "postgres://app:***@db/q");
  CHECK(RedactDsn("postgresql://app@db/q") == "postgresql://app@db/q");
  CHECK(RedactDsn("postgres://db/q?password=s3cret&x=1") == "postgres://db/q?password=***&x=1");
  CHECK(RedactDsn("host=db password=s3cret user=a") == "host=db password=*** user=a");
  CHECK(RedactDsn("sqlite:///a@b:c/file.db") == "sqlite:///a@b:c/file.db");
  // Unencoded '/' or '@' in the password, percent-encoded and spaced option keys.
  CHECK(RedactDsn("postgres://app:pa/ss@db/q") == "postgres://app:***@db/q");
  CHECK(RedactDsn("postgres://app:p@ss/w@db/q?x=1") == "postgres://app:***@db/q?x=1");
  CHECK(RedactDsn("postgres://db/q?pass%77ord=s3cret&x=1") == "postgres://db/q?pass%77ord=***&x=1");
  CHECK(RedactDsn("postgres://db/q?x=1&%70assword=s3cret") == "postgres://db/q?x=1&%70assword=***");
  CHECK(RedactDsn("host=db password = s3cret user=a") == "host=db password = *** user=a");
  CHECK(RedactDsn("host=db password='s3 cret' user=a") == "host=db password=*** user=a");
  CHECK(RedactDsn("postgres://db/q?passfile=x") == "postgres://db/q?passfile=x");
  for (const char* dsn : {"postgres://app:pa/ss@db/q?bad", "postgres://db/q?pass%77ord=pa/ss&bad",
                          "pg://u:pa/ss@h/d"}) {
    absl::Status bad = ParseDsn(dsn).status();
    INFO(dsn << " -> " << bad.message());
    CHECK(bad.code() == absl::StatusCode::kInvalidArgument);
    CHECK(std::string(bad.message()).find("pa/ss") == std::string::npos);
  }
  absl::Status bad = ParseDsn("pg://u:s3cret@h/d").status();
  CHECK(std::string(bad.message()).find("s3cret") == std::string::npos);
}

}  // namespace
}  // namespace pgqrs::storage
