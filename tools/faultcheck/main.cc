// faultcheck: drives producers, consumers and workflow workers against real pgqrsd daemons
// while killing, pausing and restarting them (and PostgreSQL), records every call in a
// history, then checks the history (checker.h). Prints "faultcheck: PASS" or "faultcheck:
// FAIL" with counts and, on failure, the offending history lines. Exit status: 0 PASS,
// 1 FAIL, 2 a usage or set-up error. See README.md, "Fault checking".
#include <stdlib.h>
#include <unistd.h>

#include <iostream>
#include <memory>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/base/status_macros.h"
#include "tools/faultcheck/run.h"

ABSL_FLAG(std::string, store, "sqlite", "sqlite, engine or postgres: the store the daemons run on");
ABSL_FLAG(std::string, dsn, "",
          "storage DSN; default PGQRS_DSN from the environment, else (sqlite, engine) a fresh "
          "file in --workdir. Required for postgres");
ABSL_FLAG(int, daemons, 1, "daemons sharing the store (more than 1 only on postgres)");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(30), "how long faults are injected");
ABSL_FLAG(uint64_t, seed, 0, "random seed (0: from the clock; printed)");
ABSL_FLAG(std::string, history, "", "history file (JSON lines); default in --workdir");
ABSL_FLAG(std::string, faults, "kill,pause,cancel",
          "comma-separated fault kinds: kill, pause, pg_restart, cancel (empty: none)");
ABSL_FLAG(std::string, pgqrsd, "", "the pgqrsd binary; default from Bazel runfiles");
ABSL_FLAG(std::string, pg_dir, "",
          "cluster directory of tools/pg/cluster.sh, for pg_restart; default PGQRS_TEST_PG_DIR");
ABSL_FLAG(std::string, pg_cluster_script, "",
          "tools/pg/cluster.sh, for pg_restart; default tools/pg/cluster.sh");
ABSL_FLAG(std::string, workdir, "", "directory for the database, logs and history");
ABSL_FLAG(int64_t, visibility_timeout_ms, 1500, "lease length of Dequeue and ClaimRun");
ABSL_FLAG(int, producers, 2, "producer threads");
ABSL_FLAG(int, consumers, 3, "consumer threads");
ABSL_FLAG(int, workflow_workers, 2, "workflow worker threads (0: no workflows)");
ABSL_FLAG(int, cancel_percent, 10, "share of calls cut short while cancel faults are on");
ABSL_FLAG(absl::Duration, drain_timeout, absl::Seconds(90),
          "after the faults, longest drain time without progress before giving up");
ABSL_FLAG(int64_t, clock_margin_ms, 10, "margin under visible_at for the lease check");
ABSL_FLAG(std::string, check, "", "only check this history file, run nothing");

namespace pgqrs::faultcheck {
namespace {

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

// A file shipped with this binary: under TEST_SRCDIR in a test, else in its runfiles tree.
std::string Runfile(const std::string& argv0, const std::string& path) {
  if (const char* dir = std::getenv("TEST_SRCDIR")) return absl::StrCat(dir, "/pgqrs/", path);
  return absl::StrCat(argv0, ".runfiles/pgqrs/", path);
}

absl::StatusOr<std::string> MakeWorkdir() {
  std::string workdir = absl::GetFlag(FLAGS_workdir);
  if (!workdir.empty()) return workdir;
  std::string pattern = EnvOr("TEST_TMPDIR", "/tmp") + "/faultcheck.XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) return absl::InternalError("mkdtemp failed");
  return pattern;
}

absl::StatusOr<RunOptions> OptionsFromFlags(const std::string& argv0) {
  RunOptions o;
  o.store = absl::GetFlag(FLAGS_store);
  if (o.store != "sqlite" && o.store != "engine" && o.store != "postgres") {
    return absl::InvalidArgumentError("--store: sqlite, engine or postgres");
  }
  PGQRS_ASSIGN_OR_RETURN(o.workdir, MakeWorkdir());
  o.dsn = absl::GetFlag(FLAGS_dsn);
  if (o.dsn.empty()) o.dsn = EnvOr("PGQRS_DSN", "");
  if (o.dsn.empty() && o.store == "postgres") {
    return absl::InvalidArgumentError("--dsn (or PGQRS_DSN) is required with --store=postgres");
  }
  if (o.dsn.empty()) o.dsn = absl::StrCat(o.store, "://", o.workdir, "/faultcheck.db");
  o.daemons = absl::GetFlag(FLAGS_daemons);
  if (o.daemons < 1 || (o.daemons > 1 && o.store != "postgres")) {
    return absl::InvalidArgumentError("--daemons: 1, or more with --store=postgres");
  }
  o.duration = absl::GetFlag(FLAGS_duration);
  o.drain_timeout = absl::GetFlag(FLAGS_drain_timeout);
  uint64_t seed = absl::GetFlag(FLAGS_seed);
  o.seed = seed != 0 ? seed : static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
  o.history_path = absl::GetFlag(FLAGS_history);
  if (o.history_path.empty()) o.history_path = o.workdir + "/history.jsonl";
  o.pgqrsd = absl::GetFlag(FLAGS_pgqrsd);
  if (o.pgqrsd.empty()) o.pgqrsd = Runfile(argv0, "server/pgqrsd");
  o.clock_margin_us = absl::GetFlag(FLAGS_clock_margin_ms) * 1000;

  std::string faults = absl::GetFlag(FLAGS_faults);
  for (absl::string_view kind : absl::StrSplit(faults, ',', absl::SkipEmpty())) {
    if (kind == "cancel") {
      o.workload.cancel_percent = absl::GetFlag(FLAGS_cancel_percent);
    } else if (kind == "kill" || kind == "pause" || kind == "pg_restart") {
      o.faults.kinds.emplace_back(kind);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("--faults: unknown kind ", kind));
    }
    o.required_faults.emplace(kind);
  }
  if (!o.required_faults.count("cancel")) o.workload.cancel_percent = 0;
  if (o.required_faults.count("pg_restart")) {
    if (o.store != "postgres") return absl::InvalidArgumentError("pg_restart needs postgres");
    o.faults.pg_dir = absl::GetFlag(FLAGS_pg_dir);
    if (o.faults.pg_dir.empty()) o.faults.pg_dir = EnvOr("PGQRS_TEST_PG_DIR", "");
    if (o.faults.pg_dir.empty()) return absl::InvalidArgumentError("pg_restart needs --pg_dir");
    o.faults.pg_cluster_script = absl::GetFlag(FLAGS_pg_cluster_script);
    if (o.faults.pg_cluster_script.empty()) {
      o.faults.pg_cluster_script = "tools/pg/cluster.sh";
    }
  }
  o.workload.visibility_timeout_ms = absl::GetFlag(FLAGS_visibility_timeout_ms);
  o.workload.producers = absl::GetFlag(FLAGS_producers);
  o.workload.consumers = absl::GetFlag(FLAGS_consumers);
  o.workload.workflow_workers = absl::GetFlag(FLAGS_workflow_workers);
  o.workload.seed = o.seed;
  o.faults.seed = o.seed;
  o.faults.pause = absl::Milliseconds(o.workload.visibility_timeout_ms + 500);
  return o;
}

int CheckFile(const std::string& path, int64_t clock_margin_us) {
  absl::StatusOr<History> history = ReadHistory(path);
  if (!history.ok()) {
    std::cerr << "faultcheck: " << history.status() << "\n";
    return 2;
  }
  CheckResult result = CheckHistory(*history, {clock_margin_us, {}});
  std::cout << FormatReport(result, *history);
  return result.ok() ? 0 : 1;
}

}  // namespace
}  // namespace pgqrs::faultcheck

int main(int argc, char** argv) {
  using namespace pgqrs::faultcheck;
  absl::SetProgramUsageMessage("faultcheck --store=sqlite|engine|postgres [--duration=30s] ...");
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() > 1) {
    std::cerr << "faultcheck: unexpected argument " << positional[1] << "\n";
    return 2;
  }
  if (!absl::GetFlag(FLAGS_check).empty()) {
    return CheckFile(absl::GetFlag(FLAGS_check), absl::GetFlag(FLAGS_clock_margin_ms) * 1000);
  }
  absl::StatusOr<RunOptions> options = OptionsFromFlags(argv[0]);
  if (!options.ok()) {
    std::cerr << "faultcheck: " << options.status().message() << "\n";
    return 2;
  }
  return RunFaultcheck(*options);
}
