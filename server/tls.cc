#include "server/tls.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <fstream>

#include "absl/strings/str_cat.h"

namespace pgqrs::server {
namespace {

absl::Status CheckReadable(const char* flag, const std::string& path) {
  std::ifstream in(path);
  if (in && in.peek() != std::ifstream::traits_type::eof()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat("--", flag, "=", path, ": cannot read"));
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ListenerCredentials(
    const TlsConfig& config) {
  if (config.cert.empty()) return grpc::InsecureServerCredentials();
  for (auto [flag, path] : {std::pair{"tls_cert", &config.cert},
                            {"tls_key", &config.key},
                            {"tls_client_ca", &config.client_ca}}) {
    if (path->empty()) continue;
    absl::Status readable = CheckReadable(flag, *path);
    if (!readable.ok()) return readable;
  }
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      config.key, config.cert, config.client_ca,
      static_cast<unsigned int>(absl::ToInt64Seconds(config.reload_interval)));
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (config.client_ca.empty()) {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

}  // namespace pgqrs::server
