// Who may call what: one rule per RPC of the pgqrs services, keyed by the full gRPC method
// name ("/pgqrs.v1.QueueService/Enqueue"). A method without a rule is refused, so a new
// RPC stays closed until it gets one (tests/server/access_rules_test enumerates the
// services' descriptors to catch that).
//
// Calls that name a run or a worker only by id are checked by role alone; their receipt
// (runs) or the worker's own registration ties them to a queue the token could reach.
#pragma once

#include "absl/strings/string_view.h"
#include "server/tokens.h"

namespace pgqrs::server {

enum class LongPoll : uint8_t {
  kNever,
  kWhenWaiting,  // parks when the request's wait_ms is positive
  kAlways,       // WaitRun, Consume streams
};

struct AccessRule {
  // Roles allowed besides admin, which may call everything.
  RoleSet roles;
  // The request's string field holding the queue or workflow name the call targets, or
  // nullptr when it targets none. An empty value there means "every name" (e.g.
  // ListWorkers without a queue), which only a `*` pattern allows.
  const char* name_field;
  LongPoll long_poll;
  // Administrative or destructive: logged in the audit log with the token's name.
  bool audited;
};

// The rule of `method`, or nullptr for a method no rule covers.
const AccessRule* FindAccessRule(absl::string_view method);

}  // namespace pgqrs::server
