// admin token create: makes an API token locally; the server is not involved.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/base/status_macros.h"
#include "server/tokens.h"
#include "tools/pgqrs/commands.h"
#include "tools/pgqrs/errors.h"

namespace pgqrs::cli {

absl::Status RunTokenCreate(const Invocation& inv, Printer& out) {
  const std::string& name = inv.args.at(0);
  absl::StatusOr<server::RoleSet> roles = server::ParseRoles(inv.GetString("role"));
  if (!roles.ok()) return UsageError(absl::StrCat("--role: ", roles.status().message()));
  std::vector<std::string> globs = absl::StrSplit(inv.GetString("queues"), ',', absl::SkipEmpty());
  if (globs.empty()) return UsageError("--queues: give at least one name glob, e.g. 'orders.*'");
  if (name.find_first_of(" \t#") != std::string::npos) {
    return UsageError("NAME: no spaces or '#'");
  }
  std::vector<std::string> limit_fields;
  if (inv.Has("rate")) limit_fields.push_back("rate=" + inv.GetString("rate"));
  if (inv.Has("burst")) limit_fields.push_back("burst=" + inv.GetString("burst"));
  absl::StatusOr<std::optional<server::RateLimit>> limit =
      server::ParseRateLimit({limit_fields.begin(), limit_fields.end()});
  if (!limit.ok()) return UsageError(absl::StrCat("--rate/--burst: ", limit.status().message()));
  PGQRS_ASSIGN_OR_RETURN(std::string token, server::NewToken());
  std::string line = server::TokenFileLine(name, server::HashToken(token), *roles, globs, *limit);
  if (out.format() == OutputFormat::kJson) {
    out.PrintCustom({}, {}, {{{"name", name}, {"token", token}, {"tokens_file_line", line}}});
    return absl::OkStatus();
  }
  out.PrintNote(absl::StrCat("token: ", token));
  out.PrintNote("  (shown only now: give it to its user, e.g. in a file for --token-file)");
  out.PrintNote("add this line to the daemon's --auth_tokens_file, then send it SIGHUP:");
  out.PrintNote(line);
  return absl::OkStatus();
}

}  // namespace pgqrs::cli
