#include "tools/pgqrs/connection.h"

#include <chrono>
#include <utility>

#include "tools/pgqrs/usage.h"

namespace pgqrs::cli {

ConnectionOptions ResolveConnectionOptions(
    const GlobalFlags& flags,
    const std::function<std::optional<std::string>(const std::string&)>& getenv) {
  ConnectionOptions options;
  options.server = flags.server.value_or(getenv("PGQRS_SERVER").value_or(kDefaultServer));
  options.token = flags.token.value_or(getenv("PGQRS_TOKEN").value_or(""));
  options.timeout_ms = flags.timeout_ms.value_or(kDefaultTimeoutMs);
  return options;
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

Connection::Connection(ConnectionOptions options)
    : options_(std::move(options)),
      channel_(grpc::CreateChannel(options_.server, grpc::InsecureChannelCredentials())),
      queues_(v1::QueueService::NewStub(channel_)),
      workers_(v1::WorkerService::NewStub(channel_)),
      admin_(v1::AdminService::NewStub(channel_)),
      workflows_(v1::WorkflowService::NewStub(channel_)) {}

void Connection::Prepare(grpc::ClientContext& context, int64_t extra_deadline_ms) const {
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(options_.timeout_ms + extra_deadline_ms));
  if (!options_.token.empty()) {
    context.AddMetadata("authorization", "Bearer " + options_.token);
  }
}

}  // namespace pgqrs::cli
