// How every pgqrs client (the CLI, pgqrs-bench, tests) reaches pgqrsd: plaintext or TLS
// (optionally with a client certificate for mTLS), and an API token sent as
// `authorization: Bearer <token>` on every call.
//
// Tokens come from a file or the PGQRS_TOKEN environment variable, never from a command
// line, where every user of the machine could read them.
//
// Thread safety: ClientIdentity is immutable once loaded and may be shared.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace pgqrs::client {

// Files a client is configured with; empty fields are unset.
struct ClientFiles {
  std::string token_file;  // first line holds the token; else PGQRS_TOKEN is used
  std::string tls_ca;      // PEM CA that signed the server's certificate; set: use TLS
  std::string tls_cert;    // PEM client certificate (mTLS); needs tls_key and tls_ca
  std::string tls_key;     // PEM private key of tls_cert
};

struct ClientIdentity {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::string token;  // empty: no authorization header
};

// Looks up an environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// Reads the files. Errors name the file that could not be used, never a secret.
absl::StatusOr<ClientIdentity> LoadClientIdentity(const ClientFiles& files,
                                                  const EnvLookup& getenv);

// A channel to `server` ("HOST:PORT") that sends the identity's token on every call.
std::shared_ptr<grpc::Channel> NewClientChannel(const std::string& server,
                                                const ClientIdentity& identity,
                                                const grpc::ChannelArguments& args = {});

// The first line of `path`, trimmed; an error if it is unreadable or empty.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

}  // namespace pgqrs::client
