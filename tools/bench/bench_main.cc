// pgqrs-bench: load generator for pgqrsd, with beanstalkd and the bare gRPC transport as
// yardsticks. Prints one JSON line on stdout and a table on stderr.
//
//   pgqrs-bench --scenario=lifecycle --producers=4 --consumers=4 --batch=1
//               --target=pgqrs --server=127.0.0.1:7468 --duration=10s
#include <cstdio>

#include "absl/flags/flag.h"
#include "engine/base/status_macros.h"
#include "tools/bench/beanstalk_target.h"
#include "tools/bench/flags.h"
#include "tools/bench/grpc_targets.h"
#include "tools/bench/longpoll.h"
#include "tools/bench/stream_target.h"
#include "tools/bench/workload.h"

ABSL_FLAG(std::string, target, "pgqrs", "pgqrs, pgqrs-stream, beanstalk or ping");
ABSL_FLAG(std::string, server, "127.0.0.1:7468", "HOST:PORT of pgqrsd (or of beanstalkd)");
ABSL_FLAG(int32_t, channels, 0,
          "gRPC connections shared by the workers; 0: one per worker (longpoll: 8)");
ABSL_FLAG(std::string, queue, "", "use this pgqrs queue instead of a fresh one");
ABSL_FLAG(int32_t, priorities, 0,
          "pgqrs: give each message a random priority in [0, N); 0 keeps them all at 0");
ABSL_FLAG(int32_t, credits, 256, "pgqrs-stream: unacked messages the Consume stream may hold");
ABSL_FLAG(int32_t, daemon_pid, 0, "pid of the daemon, to report its CPU, threads and RSS");
ABSL_FLAG(int32_t, parked, 10000, "longpoll: Dequeue calls kept parked (N)");
ABSL_FLAG(int32_t, wakes, 200, "longpoll: enqueue-and-wake rounds measured");
ABSL_FLAG(std::string, token_file, "",
          "file holding pgqrsd's API token (else env PGQRS_TOKEN; never on the command line)");
ABSL_FLAG(std::string, tls_ca, "", "use TLS, trusting this PEM CA");
ABSL_FLAG(std::string, tls_cert, "", "PEM client certificate (mTLS)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");

namespace pgqrs::bench {
namespace {

constexpr char kUsage[] =
    "pgqrs-bench: benchmark pgqrsd (or beanstalkd, or the bare gRPC transport).\n\n"
    "Scenarios: enqueue, lifecycle, drain (any target); longpoll (pgqrs only).\n"
    "Output: one JSON line on stdout, a table on stderr.";

absl::StatusOr<client::ClientIdentity> IdentityFromFlags() {
  client::ClientFiles files{absl::GetFlag(FLAGS_token_file), absl::GetFlag(FLAGS_tls_ca),
                            absl::GetFlag(FLAGS_tls_cert), absl::GetFlag(FLAGS_tls_key)};
  return client::LoadClientIdentity(files, [](const std::string& name) {
    const char* value = std::getenv(name.c_str());
    return value == nullptr ? std::nullopt : std::optional<std::string>(value);
  });
}

absl::StatusOr<RunResult> Run(const WorkloadOptions& options) {
  const std::string target = absl::GetFlag(FLAGS_target);
  const std::string server = absl::GetFlag(FLAGS_server);
  PGQRS_ASSIGN_OR_RETURN(client::ClientIdentity identity, IdentityFromFlags());
  if (options.scenario == Scenario::kLongPoll) {
    if (target != "pgqrs") return absl::InvalidArgumentError("longpoll needs --target=pgqrs");
    LongPollOptions lp;
    lp.server = server;
    lp.identity = identity;
    lp.parked = absl::GetFlag(FLAGS_parked);
    lp.wakes = absl::GetFlag(FLAGS_wakes);
    int channels = absl::GetFlag(FLAGS_channels);
    if (channels > 0) lp.channels = channels;
    lp.daemon_pid = absl::GetFlag(FLAGS_daemon_pid);
    return RunLongPoll(lp, options);
  }
  GrpcTargetOptions grpc_options{server, identity, absl::GetFlag(FLAGS_channels),
                                 absl::GetFlag(FLAGS_queue), absl::GetFlag(FLAGS_priorities)};
  std::unique_ptr<Target> t;
  if (target == "pgqrs") {
    t = NewPgqrsTarget(grpc_options);
  } else if (target == "pgqrs-stream") {
    t = NewPgqrsStreamTarget(grpc_options, absl::GetFlag(FLAGS_credits));
  } else if (target == "ping") {
    t = NewPingTarget(grpc_options);
  } else if (target == "beanstalk") {
    t = NewBeanstalkTarget(server);
  } else {
    return absl::InvalidArgumentError("--target=" + target +
                                      ": not pgqrs, pgqrs-stream, beanstalk or ping");
  }
  return RunWorkload(*t, options);
}

int Main(int argc, char** argv) {
  absl::Status parsed = ParseFlags(argc, argv, kUsage);
  absl::StatusOr<WorkloadOptions> options =
      parsed.ok() ? WorkloadOptionsFromFlags() : absl::StatusOr<WorkloadOptions>(parsed);
  if (!options.ok()) {
    std::fprintf(stderr, "pgqrs-bench: %s\n", std::string(options.status().message()).c_str());
    return 2;
  }
  options->observe_pid = absl::GetFlag(FLAGS_daemon_pid);
  return ReportRun(Run(*options), "pgqrs-bench", absl::GetFlag(FLAGS_server));
}

}  // namespace
}  // namespace pgqrs::bench

int main(int argc, char** argv) { return pgqrs::bench::Main(argc, argv); }
