#include "server/auth.h"

#include <spdlog/spdlog.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace pgqrs::server {
namespace {

constexpr absl::string_view kBearer = "Bearer ";

// The token of `authorization: Bearer <token>`, or nullopt.
std::optional<absl::string_view> BearerToken(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return std::nullopt;
  absl::string_view value(it->second.data(), it->second.size());
  if (!absl::StartsWith(value, kBearer) || value.size() == kBearer.size()) return std::nullopt;
  return value.substr(kBearer.size());
}

}  // namespace

absl::StatusOr<std::unique_ptr<Authorizer>> Authorizer::Load(const std::string& path) {
  absl::StatusOr<TokenTable> table = TokenTable::Load(path);
  if (!table.ok()) return table.status();
  std::shared_ptr<const RateLimits> limits = RateLimits::For(*table, nullptr);
  return std::unique_ptr<Authorizer>(new Authorizer(
      path, std::make_shared<const Tokens>(Tokens{*std::move(table), std::move(limits)})));
}

absl::Status Authorizer::Reload() {
  absl::StatusOr<TokenTable> table = TokenTable::Load(path_);
  if (!table.ok()) return table.status();
  absl::MutexLock lock(&mu_);
  std::shared_ptr<const RateLimits> limits = RateLimits::For(*table, tokens_->rate_limits.get());
  tokens_ = std::make_shared<const Tokens>(Tokens{*std::move(table), std::move(limits)});
  return absl::OkStatus();
}

std::shared_ptr<const Authorizer::Tokens> Authorizer::tokens() {
  absl::MutexLock lock(&mu_);
  return tokens_;
}

absl::StatusOr<std::string> Authorizer::Check(const grpc::ServerContextBase& context,
                                              absl::string_view method, const AccessRule& rule,
                                              const std::optional<std::string>& target) {
  std::optional<absl::string_view> token = BearerToken(context);
  if (!token) {
    return absl::UnauthenticatedError("missing token: send \"authorization: Bearer <token>\"");
  }
  std::shared_ptr<const Tokens> tokens = this->tokens();
  const TokenEntry* entry = tokens->table.Find(*token);
  if (entry == nullptr) return absl::UnauthenticatedError("unknown token");
  if (absl::Status within = tokens->rate_limits->Take(*entry); !within.ok()) return within;
  bool role_ok = (entry->roles & RoleBit(Role::kAdmin)) || (entry->roles & rule.roles);
  if (!role_ok) {
    std::string needed = RoleNames(rule.roles | RoleBit(Role::kAdmin));
    return absl::PermissionDeniedError(absl::StrCat("token \"", entry->name, "\" may not call ",
                                                    method, " (needs one of: ", needed, ")"));
  }
  bool name_ok =
      !target || (target->empty() ? entry->AllowsEveryName() : entry->AllowsName(*target));
  if (!name_ok) {
    return absl::PermissionDeniedError(absl::StrCat(
        "token \"", entry->name, "\" may not use ",
        target->empty() ? std::string("every name") : absl::StrCat("\"", *target, "\"")));
  }
  return entry->name;
}

absl::Status Authorizer::CheckOwner(const grpc::ServerContextBase& context, absl::string_view what,
                                    absl::FunctionRef<absl::StatusOr<std::string>()> owner) {
  std::optional<absl::string_view> token = BearerToken(context);
  std::shared_ptr<const Tokens> tokens = this->tokens();
  const TokenEntry* entry = token ? tokens->table.Find(*token) : nullptr;
  // Check passed a moment ago; only a reload in between can have removed the token.
  if (entry == nullptr) return absl::UnauthenticatedError("unknown token");
  if (entry->AllowsEveryName()) return absl::OkStatus();
  absl::StatusOr<std::string> name = owner();
  if (!name.ok()) return name.status();
  if (!name->empty() && entry->AllowsName(*name)) return absl::OkStatus();
  absl::Status denied = absl::PermissionDeniedError(
      absl::StrCat("token \"", entry->name, "\" may not use ", what, " (its ",
                   "workflow or queue is outside the token's name patterns)"));
  spdlog::warn("audit: denied a call on {} from {}: {}", std::string(what), context.peer(),
               denied.ToString());
  return denied;
}

}  // namespace pgqrs::server
