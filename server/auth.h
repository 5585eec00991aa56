// Authentication and authorization of calls with API tokens (tokens.h).
//
// A call presents its token as gRPC metadata `authorization: Bearer <token>`. A missing or
// unknown token is UNAUTHENTICATED; a token whose roles or name patterns do not allow the
// call (access_rules.h) is PERMISSION_DENIED; a token over its rate limit (rate_limit.h) is
// RESOURCE_EXHAUSTED. Messages name the token's name, never the secret.
//
// Thread safety: all methods may be called from any thread; Reload swaps the table
// atomically for later calls.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "server/access_rules.h"
#include "server/rate_limit.h"
#include "server/tokens.h"

namespace pgqrs::server {

class Authorizer {
 public:
  // Loads the tokens file at `path`; an unreadable or malformed file is an error.
  static absl::StatusOr<std::unique_ptr<Authorizer>> Load(const std::string& path);

  // Reads the tokens file again. On error the previous table stays in force. Tokens whose
  // rate limit did not change keep what they have spent.
  absl::Status Reload();

  // Returns the name of the call's token when the token is within its rate limit and
  // `rule` allows it on `target` (the name the call targets, if the rule has one). Every
  // call of a known token counts against its rate limit, refused ones included.
  absl::StatusOr<std::string> Check(const grpc::ServerContextBase& context,
                                    absl::string_view method, const AccessRule& rule,
                                    const std::optional<std::string>& target);

  // For a call that names a run or worker (`what`, e.g. "run 12") only by id, after Check
  // allowed its role: OK when the token allows every name, or allows the name `owner`
  // returns (the run's workflow or the worker's queue; empty means every name). `owner`
  // is called only in the second case; its error is returned as is. A refusal is
  // PERMISSION_DENIED naming the token and `what`, never the owner's name, and is written
  // to the audit log.
  absl::Status CheckOwner(const grpc::ServerContextBase& context, absl::string_view what,
                          absl::FunctionRef<absl::StatusOr<std::string>()> owner);

 private:
  // A tokens file as loaded: the table and its tokens' buckets.
  struct Tokens {
    TokenTable table;
    std::shared_ptr<const RateLimits> rate_limits;
  };

  Authorizer(std::string path, std::shared_ptr<const Tokens> tokens)
      : path_(std::move(path)), tokens_(std::move(tokens)) {}

  std::shared_ptr<const Tokens> tokens();

  const std::string path_;
  absl::Mutex mu_;
  std::shared_ptr<const Tokens> tokens_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pgqrs::server
