// CallGuard decides, before a service method runs, whether the call may run at all: the
// method must have an access rule, the caller's token must allow it on the name it targets
// (when authentication is on), and a long-poll must fit the parked-call limits. A refused
// call never reaches the service, so nothing is stored. Administrative and destructive
// calls, and refusals of a token, are written to the audit log with the token's name.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/auth.h"
#include "server/limits.h"

namespace pgqrs::server {

class CallGuard {
 public:
  // `authorizer` is null when authentication is off; both must outlive the guard.
  CallGuard(Authorizer* authorizer, LongPollLimiter& long_polls)
      : authorizer_(authorizer), long_polls_(long_polls) {}

  // OK when the call to `method` (full gRPC name) with `request` may run.
  absl::Status Check(grpc::CallbackServerContext* context, absl::string_view method,
                     const google::protobuf::Message& request);

  // For a stream `method`: checks its rule and the caller's role when it opens. The names
  // it targets come in its messages; the stream passes each to CheckStreamMessage. A
  // stream whose rule parks (Consume) takes a parked-call slot until it ends.
  absl::Status CheckStreamOpen(grpc::CallbackServerContext* context, absl::string_view method);
  // OK when the caller's token allows the name `request` targets.
  absl::Status CheckStreamMessage(grpc::CallbackServerContext* context, absl::string_view method,
                                  const google::protobuf::Message& request);

  // Called once per call when gRPC is done with it: frees what Check reserved.
  void OnCallEnd(const grpc::ServerContextBase* context) { long_polls_.Release(context); }

  // Makes gRPC report the end of every call to OnCallEnd; register with
  // ServerBuilder::experimental().SetInterceptorCreators.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> CallEndReporter();

 private:
  // The token's name ("-" when authentication is off) when it may call `method` on `target`.
  absl::StatusOr<std::string> Authorize(grpc::CallbackServerContext* context,
                                        absl::string_view method, const AccessRule& rule,
                                        const std::optional<std::string>& target);

  Authorizer* const authorizer_;
  LongPollLimiter& long_polls_;
};

}  // namespace pgqrs::server
