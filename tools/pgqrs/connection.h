// The client's connection to pgqrsd: one channel, one stub per service, and a uniform way
// to make a unary call with the configured deadline and credentials.
//
// Thread safety: not thread-safe (the CLI makes one call at a time).
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/pgqrs/v1/admin.grpc.pb.h"
#include "proto/pgqrs/v1/queue.grpc.pb.h"
#include "proto/pgqrs/v1/worker.grpc.pb.h"
#include "proto/pgqrs/v1/workflow.grpc.pb.h"
#include "tools/client/channel.h"
#include "tools/pgqrs/args.h"

namespace pgqrs::cli {

struct ConnectionOptions {
  std::string server;               // HOST:PORT
  client::ClientIdentity identity;  // TLS or plaintext, and the token sent with every call
  int64_t timeout_ms = 0;           // deadline of each call
};

// Fills ConnectionOptions from the global flags, then `getenv` (PGQRS_SERVER,
// PGQRS_TOKEN_FILE, PGQRS_TOKEN, PGQRS_TLS_CA, PGQRS_TLS_CERT, PGQRS_TLS_KEY), then the
// defaults. `getenv` returns nullopt for unset variables. An unreadable or empty file is
// an error that names the file, never its content.
absl::StatusOr<ConnectionOptions> ResolveConnectionOptions(
    const GlobalFlags& flags,
    const std::function<std::optional<std::string>(const std::string&)>& getenv);

// grpc::Status -> absl::Status; the codes share their numbering.
absl::Status FromGrpcStatus(const grpc::Status& status);

class Connection {
 public:
  explicit Connection(ConnectionOptions options);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  v1::QueueService::Stub& queues() { return *queues_; }
  v1::WorkerService::Stub& workers() { return *workers_; }
  v1::AdminService::Stub& admin() { return *admin_; }
  v1::WorkflowService::Stub& workflows() { return *workflows_; }

  // Calls `method` on `stub` with a deadline of timeout_ms + extra_deadline_ms from now.
  // Returns the server's status on failure.
  template <typename Stub, typename Request, typename Response>
  absl::StatusOr<Response> Call(Stub& stub,
                                grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                             Response*),
                                const Request& request, int64_t extra_deadline_ms = 0) {
    grpc::ClientContext context;
    Prepare(context, extra_deadline_ms);
    Response response;
    grpc::Status status = (stub.*method)(&context, request, &response);
    if (!status.ok()) {
      return FromGrpcStatus(status);
    }
    return response;
  }

 private:
  void Prepare(grpc::ClientContext& context, int64_t extra_deadline_ms) const;

  ConnectionOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::QueueService::Stub> queues_;
  std::unique_ptr<v1::WorkerService::Stub> workers_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
  std::unique_ptr<v1::WorkflowService::Stub> workflows_;
};

}  // namespace pgqrs::cli
