#include "tools/pgqrs/connection.h"

#include <chrono>
#include <utility>

#include "engine/base/status_macros.h"
#include "tools/pgqrs/usage.h"

namespace pgqrs::cli {

absl::StatusOr<ConnectionOptions> ResolveConnectionOptions(
    const GlobalFlags& flags,
    const std::function<std::optional<std::string>(const std::string&)>& getenv) {
  ConnectionOptions options;
  options.server = flags.server.value_or(getenv("PGQRS_SERVER").value_or(kDefaultServer));
  auto flag_or_env = [&](const std::optional<std::string>& flag, const char* var) {
    return flag.value_or(getenv(var).value_or(""));
  };
  client::ClientFiles files;
  files.token_file = flag_or_env(flags.token_file, "PGQRS_TOKEN_FILE");
  files.tls_ca = flag_or_env(flags.tls_ca, "PGQRS_TLS_CA");
  files.tls_cert = flag_or_env(flags.tls_cert, "PGQRS_TLS_CERT");
  files.tls_key = flag_or_env(flags.tls_key, "PGQRS_TLS_KEY");
  PGQRS_ASSIGN_OR_RETURN(options.identity, client::LoadClientIdentity(files, getenv));
  options.timeout_ms = flags.timeout_ms.value_or(kDefaultTimeoutMs);
  return options;
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

Connection::Connection(ConnectionOptions options)
    : options_(std::move(options)),
      channel_(client::NewClientChannel(options_.server, options_.identity)),
      queues_(v1::QueueService::NewStub(channel_)),
      workers_(v1::WorkerService::NewStub(channel_)),
      admin_(v1::AdminService::NewStub(channel_)),
      workflows_(v1::WorkflowService::NewStub(channel_)) {}

void Connection::Prepare(grpc::ClientContext& context, int64_t extra_deadline_ms) const {
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(options_.timeout_ms + extra_deadline_ms));
}

}  // namespace pgqrs::cli
