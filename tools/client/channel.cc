#include "tools/client/channel.h"

#include <grpcpp/support/client_interceptor.h>

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"

namespace pgqrs::client {
namespace {

using grpc::experimental::ClientInterceptorFactoryInterface;
using grpc::experimental::ClientRpcInfo;
using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::Interceptor;
using grpc::experimental::InterceptorBatchMethods;

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* what) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in || text.str().empty()) {
    return absl::FailedPreconditionError(absl::StrCat("cannot read the ", what, " ", path));
  }
  return text.str();
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials(const ClientFiles& files) {
  bool client_cert = !files.tls_cert.empty() || !files.tls_key.empty();
  if (files.tls_ca.empty()) {
    if (client_cert) {
      return absl::InvalidArgumentError("a client certificate needs TLS: give the server's CA too");
    }
    return grpc::InsecureChannelCredentials();
  }
  grpc::SslCredentialsOptions ssl;
  PGQRS_ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadPem(files.tls_ca, "TLS CA file"));
  if (client_cert) {
    if (files.tls_cert.empty() || files.tls_key.empty()) {
      return absl::InvalidArgumentError("a client certificate needs both its cert and key files");
    }
    PGQRS_ASSIGN_OR_RETURN(ssl.pem_cert_chain, ReadPem(files.tls_cert, "client certificate"));
    PGQRS_ASSIGN_OR_RETURN(ssl.pem_private_key, ReadPem(files.tls_key, "client key"));
  }
  return grpc::SslCredentials(ssl);
}

// Adds the bearer token to the initial metadata of every call.
class TokenInterceptor : public Interceptor {
 public:
  explicit TokenInterceptor(const std::string& header) : header_(header) {}
  void Intercept(InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert({"authorization", header_});
    }
    methods->Proceed();
  }

 private:
  const std::string& header_;
};

class TokenInterceptorFactory : public ClientInterceptorFactoryInterface {
 public:
  explicit TokenInterceptorFactory(std::string token) : header_("Bearer " + std::move(token)) {}
  Interceptor* CreateClientInterceptor(ClientRpcInfo*) override {
    return new TokenInterceptor(header_);
  }

 private:
  const std::string header_;
};

}  // namespace

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path);
  std::string token;
  if (!in || !std::getline(in, token)) {
    return absl::FailedPreconditionError(absl::StrCat("cannot read a token from ", path));
  }
  token = std::string(absl::StripAsciiWhitespace(token));
  if (token.empty()) return absl::FailedPreconditionError(absl::StrCat(path, " is empty"));
  return token;
}

absl::StatusOr<ClientIdentity> LoadClientIdentity(const ClientFiles& files,
                                                  const EnvLookup& getenv) {
  ClientIdentity identity;
  PGQRS_ASSIGN_OR_RETURN(identity.credentials, Credentials(files));
  if (!files.token_file.empty()) {
    PGQRS_ASSIGN_OR_RETURN(identity.token, ReadTokenFile(files.token_file));
  } else {
    identity.token = getenv("PGQRS_TOKEN").value_or("");
  }
  return identity;
}

std::shared_ptr<grpc::Channel> NewClientChannel(const std::string& server,
                                                const ClientIdentity& identity,
                                                const grpc::ChannelArguments& args) {
  std::vector<std::unique_ptr<ClientInterceptorFactoryInterface>> interceptors;
  if (!identity.token.empty()) {
    interceptors.push_back(std::make_unique<TokenInterceptorFactory>(identity.token));
  }
  return grpc::experimental::CreateCustomChannelWithInterceptors(server, identity.credentials, args,
                                                                 std::move(interceptors));
}

}  // namespace pgqrs::client
