#include "server/tokens.h"

#include <catch2/catch.hpp>

namespace pgqrs::server {
namespace {

TEST_CASE("a tokens file line round-trips and finds its token", "[server][auth]") {
  absl::StatusOr<std::string> token = NewToken();
  REQUIRE(token.ok());
  CHECK(token->rfind("pgqrs_", 0) == 0);
  CHECK(token->size() == 6 + 64);
  RoleSet roles = RoleBit(Role::kProducer) | RoleBit(Role::kReader);
  std::string line = TokenFileLine("orders-api", HashToken(*token), roles, {"orders.*", "audit"});
  CHECK(line.find(*token) == std::string::npos);  // only the hash is written
  CHECK(line.find("producer,reader") != std::string::npos);

  absl::StatusOr<TokenTable> table = TokenTable::Parse("# comment\n\n" + line + "\n");
  REQUIRE(table.ok());
  CHECK(table->size() == 1);
  const TokenEntry* entry = table->Find(*token);
  REQUIRE(entry != nullptr);
  CHECK(entry->name == "orders-api");
  CHECK(entry->roles == roles);
  CHECK(entry->AllowsName("orders.eu"));
  CHECK(entry->AllowsName("audit"));
  CHECK_FALSE(entry->AllowsName("ordersX"));
  CHECK_FALSE(entry->AllowsName("audit.x"));
  CHECK_FALSE(entry->AllowsEveryName());
  CHECK(table->Find(*token + "x") == nullptr);
  CHECK(table->Find("") == nullptr);
}

TEST_CASE("two new tokens differ", "[server][auth]") { CHECK(*NewToken() != *NewToken()); }

TEST_CASE("malformed tokens files are refused naming the line", "[server][auth]") {
  std::string hash(64, 'a');
  for (const std::string& bad : {
           std::string("name ") + hash + " producer",                    // missing globs
           std::string("name abc producer *"),                           // short hash
           std::string("name ") + std::string(64, 'g') + " producer *",  // not hex
           std::string("name ") + hash + " boss *",                      // unknown role
           std::string("name ") + hash + " producer , ",                 // empty globs
           std::string("name ") + hash + " producer * rate=0",           // zero rate
           std::string("name ") + hash + " producer * rate=fast",        // not a number
           std::string("name ") + hash + " producer * rate=5 burst=0",   // zero burst
           std::string("name ") + hash + " producer * burst=5",          // burst without rate
           std::string("name ") + hash + " producer * limit=5",          // unknown field
       }) {
    INFO(bad);
    absl::StatusOr<TokenTable> table = TokenTable::Parse("\n" + bad);
    REQUIRE_FALSE(table.ok());
    CHECK(table.status().message().find("line 2") != std::string::npos);
  }
}

TEST_CASE("a * pattern allows every name", "[server][auth]") {
  absl::StatusOr<TokenTable> table = TokenTable::Parse("ops " + std::string(64, '0') + " admin *");
  REQUIRE(table.ok());
  absl::StatusOr<RoleSet> roles = ParseRoles("admin");
  REQUIRE(roles.ok());
  CHECK(*roles == RoleBit(Role::kAdmin));
}

TEST_CASE("a token line may carry a rate limit", "[server][auth]") {
  std::string hash(64, 'a');
  absl::StatusOr<TokenTable> table =
      TokenTable::Parse("plain " + hash + " reader *\n" + "limited " + std::string(64, 'b') +
                        " reader * rate=2.5 burst=7\n" + "default-burst " + std::string(64, 'c') +
                        " reader * rate=2.5\n");
  REQUIRE(table.ok());
  REQUIRE(table->size() == 3);
  CHECK_FALSE(table->entries()[0].rate_limit.has_value());
  REQUIRE(table->entries()[1].rate_limit.has_value());
  CHECK(table->entries()[1].rate_limit->per_second == 2.5);
  CHECK(table->entries()[1].rate_limit->burst == 7);
  REQUIRE(table->entries()[2].rate_limit.has_value());
  CHECK(table->entries()[2].rate_limit->burst == 3);  // the rate rounded up

  // TokenFileLine writes what Parse reads.
  std::string line =
      TokenFileLine("x", HashToken("t"), RoleBit(Role::kReader), {"*"}, RateLimit{0.5, 4});
  absl::StatusOr<TokenTable> again = TokenTable::Parse(line);
  REQUIRE(again.ok());
  REQUIRE(again->entries()[0].rate_limit.has_value());
  CHECK(*again->entries()[0].rate_limit == RateLimit{0.5, 4});
}

}  // namespace
}  // namespace pgqrs::server
