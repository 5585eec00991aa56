#include "server/config.h"

#include <cstdlib>
#include <fstream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7468", "gRPC listen address, HOST:PORT");
ABSL_FLAG(std::string, dsn, "engine://./pgqrs.db",
          "storage DSN: sqlite:///path.db, sqlite::memory:, postgres://user:pw@host/db");
ABSL_FLAG(std::string, notify_dsn, "",
          "PostgreSQL: direct DSN for LISTEN wake-ups when --dsn goes through PgBouncer");
ABSL_FLAG(int32_t, pool_size, 8, "storage connections (PostgreSQL) or readers (SQLite)");
ABSL_FLAG(int32_t, executor_threads, 8, "threads that run storage calls");
ABSL_FLAG(int32_t, executor_queue_limit, 100000,
          "calls waiting for a storage thread before new ones get RESOURCE_EXHAUSTED");
ABSL_FLAG(int32_t, max_batch, 1000, "messages or receipts per call, at most");
ABSL_FLAG(int64_t, max_payload_bytes, 256 * 1024, "bytes per message payload, at most");
ABSL_FLAG(int64_t, max_wait_ms, 60000, "long-poll wait_ms, at most");
ABSL_FLAG(int64_t, max_visibility_timeout_ms, 12 * 3600 * 1000LL, "visibility timeout, at most");
ABSL_FLAG(int64_t, max_delay_ms, 7 * 24 * 3600 * 1000LL, "message delay, at most");
ABSL_FLAG(int32_t, max_page_size, 1000, "page_size of list calls, at most");
ABSL_FLAG(int64_t, max_request_bytes, 16 << 20,
          "bytes of one request, at most (whatever its batch size); at most 1 GiB");
ABSL_FLAG(int64_t, max_inflight_bytes, 256 << 20,
          "memory budget of all requests in flight (gRPC resource quota)");
ABSL_FLAG(int32_t, max_streams_per_connection, 2000, "concurrent calls per connection, at most");
ABSL_FLAG(int32_t, max_long_polls_per_connection, 1000,
          "parked long-polls (Dequeue/ClaimRun with wait_ms, WaitRun) per connection, at most");
ABSL_FLAG(int32_t, max_long_polls, 10000, "parked long-polls in total, at most");
ABSL_FLAG(int64_t, worker_timeout_ms, 30000,
          "a worker silent this long is stopped and its leases released");
ABSL_FLAG(int64_t, heartbeat_reaper_interval_ms, 5000, "how often the heartbeat reaper runs");
ABSL_FLAG(int64_t, visibility_reaper_interval_ms, 1000, "how often the visibility reaper runs");
ABSL_FLAG(int64_t, archive_retention_ms, 7 * 24 * 3600 * 1000LL,
          "acked (archived) messages are deleted after this long");
ABSL_FLAG(int64_t, run_retention_ms, 7 * 24 * 3600 * 1000LL,
          "finished workflow runs (and their steps) are deleted this long after they end");
ABSL_FLAG(int64_t, worker_retention_ms, 7 * 24 * 3600 * 1000LL,
          "stopped workers are deleted this long after they stop");
ABSL_FLAG(int64_t, shutdown_grace_ms, 10000,
          "on SIGTERM/SIGINT, how long in-flight calls may take to finish");
ABSL_FLAG(int64_t, health_check_interval_ms, 1000,
          "how often the store is probed for the grpc.health.v1 status");
ABSL_FLAG(bool, migrate, true, "apply storage migrations at start-up");
ABSL_FLAG(std::string, auth_tokens_file, "",
          "file of API token hashes, names, roles and name globs; empty: no authentication");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain of the gRPC listener; enables TLS");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA that client certificates must chain to; set: mutual TLS is required");
ABSL_FLAG(int64_t, tls_reload_interval_s, 60,
          "how often the TLS files are re-read, so renewed certificates apply without restart");
ABSL_FLAG(std::string, metrics_listen, "",
          "HOST:PORT serving Prometheus metrics at /metrics; empty: off");
ABSL_FLAG(int32_t, metrics_max_queues, 100,
          "queues with their own metric series; the rest are summed under queue=\"_other\"");
ABSL_FLAG(bool, insecure_listen, false,
          "allow a non-loopback --listen address without TLS and authentication");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error");
ABSL_FLAG(std::string, log_format, "text", "text or json");

namespace pgqrs::server {
namespace {

// Every flag that may also come from the environment as PGQRS_<NAME>.
constexpr const char* kEnvFlags[] = {
    "listen",
    "dsn",
    "notify_dsn",
    "pool_size",
    "executor_threads",
    "executor_queue_limit",
    "max_batch",
    "max_payload_bytes",
    "max_wait_ms",
    "max_visibility_timeout_ms",
    "max_delay_ms",
    "max_page_size",
    "max_request_bytes",
    "max_inflight_bytes",
    "max_streams_per_connection",
    "max_long_polls_per_connection",
    "max_long_polls",
    "worker_timeout_ms",
    "heartbeat_reaper_interval_ms",
    "visibility_reaper_interval_ms",
    "archive_retention_ms",
    "run_retention_ms",
    "worker_retention_ms",
    "shutdown_grace_ms",
    "health_check_interval_ms",
    "migrate",
    "auth_tokens_file",
    "tls_cert",
    "tls_key",
    "tls_client_ca",
    "tls_reload_interval_s",
    "metrics_listen",
    "metrics_max_queues",
    "insecure_listen",
    "log_level",
    "log_format",
};

// argv with `--name=value` for each PGQRS_* variable inserted before the real flags, so
// the command line overrides the environment.
std::vector<std::string> MergeEnvironment(int argc, char** argv) {
  std::vector<std::string> args = {argv[0]};
  for (const char* name : kEnvFlags) {
    std::string var = absl::StrCat("PGQRS_", absl::AsciiStrToUpper(name));
    if (const char* value = std::getenv(var.c_str())) {
      args.push_back(absl::StrCat("--", name, "=", value));
    }
  }
  for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
  return args;
}

absl::Status Positive(const char* flag, int64_t value) {
  if (value > 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("--", flag, "=", value, ": must be positive"));
}

absl::Status OneOf(const char* flag, const std::string& value,
                   std::initializer_list<const char*> allowed) {
  for (const char* a : allowed) {
    if (value == a) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag, "=", value, ": not one of the allowed values"));
}

// gRPC sizes messages with an int; a 1 GiB request is already far beyond any sane use.
constexpr int64_t kMaxRequestBytesCeiling = 1 << 30;

// "HOST" of "HOST:PORT" or "[V6]:PORT", without brackets.
std::string_view ListenHost(std::string_view listen) {
  std::string_view host = listen.substr(0, listen.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host;
}

bool IsLoopback(std::string_view host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

absl::Duration Ms(int64_t ms) { return absl::Milliseconds(ms); }

absl::Status CheckAll(const Config& c) {
  for (auto [flag, value] : std::initializer_list<std::pair<const char*, int64_t>>{
           {"pool_size", c.pool_size},
           {"executor_threads", c.executor_threads},
           {"executor_queue_limit", c.executor_queue_limit},
           {"max_batch", c.limits.max_batch},
           {"max_payload_bytes", c.limits.max_payload_bytes},
           {"max_wait_ms", absl::ToInt64Milliseconds(c.limits.max_wait)},
           {"max_visibility_timeout_ms",
            absl::ToInt64Milliseconds(c.limits.max_visibility_timeout)},
           {"max_delay_ms", absl::ToInt64Milliseconds(c.limits.max_delay)},
           {"max_page_size", c.limits.max_page_size},
           {"max_request_bytes", c.limits.max_request_bytes},
           {"max_inflight_bytes", c.limits.max_inflight_bytes},
           {"max_streams_per_connection", c.limits.max_streams_per_connection},
           {"max_long_polls_per_connection", c.limits.max_long_polls_per_connection},
           {"max_long_polls", c.limits.max_long_polls},
           {"worker_timeout_ms", absl::ToInt64Milliseconds(c.worker_timeout)},
           {"heartbeat_reaper_interval_ms", absl::ToInt64Milliseconds(c.heartbeat_reaper_interval)},
           {"visibility_reaper_interval_ms",
            absl::ToInt64Milliseconds(c.visibility_reaper_interval)},
           {"archive_retention_ms", absl::ToInt64Milliseconds(c.archive_retention)},
           {"run_retention_ms", absl::ToInt64Milliseconds(c.retention.runs)},
           {"worker_retention_ms", absl::ToInt64Milliseconds(c.retention.workers)},
           {"shutdown_grace_ms", absl::ToInt64Milliseconds(c.shutdown_grace)},
           {"health_check_interval_ms", absl::ToInt64Milliseconds(c.health_check_interval)},
           {"tls_reload_interval_s", absl::ToInt64Seconds(c.tls.reload_interval)},
           {"metrics_max_queues", c.metrics_max_queues},
       }) {
    absl::Status s = Positive(flag, value);
    if (!s.ok()) return s;
  }
  if (c.limits.max_request_bytes > kMaxRequestBytesCeiling) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max_request_bytes=", c.limits.max_request_bytes, ": at most ", kMaxRequestBytesCeiling));
  }
  if (c.listen.find(':') == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("--listen=", c.listen, ": expected HOST:PORT"));
  }
  if (c.tls.cert.empty() != c.tls.key.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  if (!c.tls.client_ca.empty() && c.tls.cert.empty()) {
    return absl::InvalidArgumentError("--tls_client_ca needs --tls_cert and --tls_key");
  }
  bool protected_listener = !c.tls.cert.empty() && !c.auth_tokens_file.empty();
  if (!ListensOnLoopback(c) && !protected_listener && !c.insecure_listen) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--listen=", c.listen,
        ": a non-loopback address needs TLS (--tls_cert, --tls_key) and --auth_tokens_file; "
        "--insecure_listen accepts the risk"));
  }
  absl::Status s = OneOf("log_level", c.log_level, {"trace", "debug", "info", "warn", "error"});
  if (!s.ok()) return s;
  return OneOf("log_format", c.log_format, {"text", "json"});
}

}  // namespace

absl::StatusOr<std::string> LogLevelInFlagfiles(const std::vector<std::string>& flagfiles) {
  constexpr std::string_view kPrefix = "--log_level=";
  std::string level;
  for (const std::string& path : flagfiles) {
    std::ifstream in(path);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind(kPrefix, 0) == 0) level = line.substr(kPrefix.size());
    }
  }
  if (level.empty()) return level;
  absl::Status valid = OneOf("log_level", level, {"trace", "debug", "info", "warn", "error"});
  if (!valid.ok()) return valid;
  return level;
}

bool ListensOnLoopback(const Config& config) { return IsLoopback(ListenHost(config.listen)); }

absl::StatusOr<Config> LoadConfig(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "pgqrsd: the pgqrs queue server.\n\nUsage: pgqrsd [--flag=value ...]\n"
      "Flags may also come from PGQRS_<FLAG> environment variables or --flagfile=FILE.");
  std::vector<std::string> merged = MergeEnvironment(argc, argv);
  std::vector<char*> raw;
  for (std::string& a : merged) raw.push_back(a.data());
  std::vector<char*> rest = absl::ParseCommandLine(static_cast<int>(raw.size()), raw.data());
  if (rest.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", rest[1], "\""));
  }
  Config c;
  c.listen = absl::GetFlag(FLAGS_listen);
  c.dsn = absl::GetFlag(FLAGS_dsn);
  c.notify_dsn = absl::GetFlag(FLAGS_notify_dsn);
  c.pool_size = absl::GetFlag(FLAGS_pool_size);
  c.executor_threads = absl::GetFlag(FLAGS_executor_threads);
  c.executor_queue_limit = absl::GetFlag(FLAGS_executor_queue_limit);
  c.limits.max_batch = absl::GetFlag(FLAGS_max_batch);
  c.limits.max_payload_bytes = absl::GetFlag(FLAGS_max_payload_bytes);
  c.limits.max_wait = Ms(absl::GetFlag(FLAGS_max_wait_ms));
  c.limits.max_visibility_timeout = Ms(absl::GetFlag(FLAGS_max_visibility_timeout_ms));
  c.limits.max_delay = Ms(absl::GetFlag(FLAGS_max_delay_ms));
  c.limits.max_page_size = absl::GetFlag(FLAGS_max_page_size);
  c.limits.max_request_bytes = absl::GetFlag(FLAGS_max_request_bytes);
  c.limits.max_inflight_bytes = absl::GetFlag(FLAGS_max_inflight_bytes);
  c.limits.max_streams_per_connection = absl::GetFlag(FLAGS_max_streams_per_connection);
  c.limits.max_long_polls_per_connection = absl::GetFlag(FLAGS_max_long_polls_per_connection);
  c.limits.max_long_polls = absl::GetFlag(FLAGS_max_long_polls);
  c.worker_timeout = Ms(absl::GetFlag(FLAGS_worker_timeout_ms));
  c.heartbeat_reaper_interval = Ms(absl::GetFlag(FLAGS_heartbeat_reaper_interval_ms));
  c.visibility_reaper_interval = Ms(absl::GetFlag(FLAGS_visibility_reaper_interval_ms));
  c.archive_retention = Ms(absl::GetFlag(FLAGS_archive_retention_ms));
  c.retention.runs = Ms(absl::GetFlag(FLAGS_run_retention_ms));
  c.retention.workers = Ms(absl::GetFlag(FLAGS_worker_retention_ms));
  c.shutdown_grace = Ms(absl::GetFlag(FLAGS_shutdown_grace_ms));
  c.health_check_interval = Ms(absl::GetFlag(FLAGS_health_check_interval_ms));
  c.migrate = absl::GetFlag(FLAGS_migrate);
  c.auth_tokens_file = absl::GetFlag(FLAGS_auth_tokens_file);
  c.insecure_listen = absl::GetFlag(FLAGS_insecure_listen);
  c.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  c.metrics_max_queues = absl::GetFlag(FLAGS_metrics_max_queues);
  c.tls.cert = absl::GetFlag(FLAGS_tls_cert);
  c.tls.key = absl::GetFlag(FLAGS_tls_key);
  c.tls.client_ca = absl::GetFlag(FLAGS_tls_client_ca);
  c.tls.reload_interval = absl::Seconds(absl::GetFlag(FLAGS_tls_reload_interval_s));
  c.log_level = absl::GetFlag(FLAGS_log_level);
  c.log_format = absl::GetFlag(FLAGS_log_format);
  for (const std::string& arg : merged) {
    if (arg.rfind("--flagfile=", 0) == 0) c.flagfiles.push_back(arg.substr(11));
  }
  absl::Status status = CheckAll(c);
  if (!status.ok()) return status;
  return c;
}

}  // namespace pgqrs::server
