// store-bench: the lifecycle transactions of pgqrsd (enqueue a batch, dequeue, ack) made
// in-process on a storage::Store, with the same workloads and output as pgqrs-bench.
//
//   store-bench --dsn=sqlite:///tmp/bench.db --scenario=lifecycle --producers=4 --consumers=4
#include <cstdio>

#include "absl/flags/flag.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"
#include "storage/dsn.h"
#include "tools/bench/flags.h"
#include "tools/bench/store_target.h"
#include "tools/bench/workload.h"

ABSL_FLAG(std::string, dsn, "sqlite:///tmp/pgqrs-store-bench.db", "storage DSN");
ABSL_FLAG(int32_t, pool_size, 8, "storage connections (PostgreSQL) or readers (SQLite)");

namespace pgqrs::bench {
namespace {

constexpr char kUsage[] =
    "store-bench: benchmark a pgqrs storage adapter in-process.\n\n"
    "Scenarios: enqueue, lifecycle, drain. Output: one JSON line on stdout, a table on "
    "stderr.";

int Main(int argc, char** argv) {
  // stdout carries the one JSON result line; the storage layers' log lines go to stderr.
  spdlog::set_default_logger(spdlog::stderr_logger_mt("store-bench"));
  absl::Status parsed = ParseFlags(argc, argv, kUsage);
  absl::StatusOr<WorkloadOptions> options =
      parsed.ok() ? WorkloadOptionsFromFlags() : absl::StatusOr<WorkloadOptions>(parsed);
  if (options.ok() && options->scenario == Scenario::kLongPoll) {
    options = absl::InvalidArgumentError("longpoll needs a daemon: use pgqrs-bench");
  }
  if (!options.ok()) {
    std::fprintf(stderr, "store-bench: %s\n", std::string(options.status().message()).c_str());
    return 2;
  }
  const std::string dsn = absl::GetFlag(FLAGS_dsn);
  absl::StatusOr<std::unique_ptr<Target>> target =
      NewStoreTarget(dsn, absl::GetFlag(FLAGS_pool_size));
  absl::StatusOr<RunResult> result =
      target.ok() ? RunWorkload(**target, *options) : absl::StatusOr<RunResult>(target.status());
  return ReportRun(std::move(result), "store-bench", storage::RedactDsn(dsn));
}

}  // namespace
}  // namespace pgqrs::bench

int main(int argc, char** argv) { return pgqrs::bench::Main(argc, argv); }
