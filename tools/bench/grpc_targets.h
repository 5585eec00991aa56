// Targets that talk gRPC to pgqrsd:
//   pgqrs  the real queue: Enqueue, Dequeue (long-poll) and Ack on a fresh queue.
//   ping   the same calls, each replaced by AdminService.GetServerInfo (answered from
//          memory, no storage), with messages handed from producers to consumers inside
//          this process. Same concurrency and the same number of calls per message, so
//          its throughput is what the transport alone allows.
#pragma once

#include <memory>
#include <string>

#include "tools/bench/target.h"
#include "tools/client/channel.h"

namespace pgqrs::bench {

struct GrpcTargetOptions {
  std::string server;  // HOST:PORT
  client::ClientIdentity identity;
  // Distinct TCP connections the sessions share round-robin; 0 means one per session.
  int channels = 0;
  // The queue to use (created if missing, deleted by Teardown when it was created).
  // Empty: a fresh name per run.
  std::string queue;
  // pgqrs: each message gets a random priority in [0, priorities); 0 or 1 leaves every
  // message at priority 0.
  int priorities = 0;
};

std::unique_ptr<Target> NewPgqrsTarget(const GrpcTargetOptions& options);
std::unique_ptr<Target> NewPingTarget(const GrpcTargetOptions& options);

}  // namespace pgqrs::bench
