// TLS for the gRPC listener: the server's certificate and key (--tls_cert, --tls_key)
// and, for mTLS, the CA client certificates must chain to (--tls_client_ca). The files
// are watched with gRPC's FileWatcherCertificateProvider and re-read every
// --tls_reload_interval_s, so a renewed certificate is served to new connections without
// a restart.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "absl/status/statusor.h"
#include "server/config.h"

namespace pgqrs::server {

// Plaintext credentials when config.tls.cert is empty, else TLS ones. The files must be
// readable now; errors name the flag and file.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ListenerCredentials(
    const TlsConfig& config);

}  // namespace pgqrs::server
