// The daemon's configuration: command-line flags, `--flagfile=FILE` for a config file,
// and PGQRS_<FLAG> environment variables (a flag given on the command line wins).
// Every value is checked at start-up; a bad one is an error that names the flag.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/types.h"

namespace pgqrs::server {

// Request limits the services enforce.
struct Limits {
  int32_t max_batch = 1000;
  int64_t max_payload_bytes = 256 * 1024;
  absl::Duration max_wait = absl::Seconds(60);
  absl::Duration max_visibility_timeout = absl::Hours(12);
  absl::Duration max_delay = absl::Hours(24 * 7);
  int32_t max_page_size = 1000;
  // Transport limits against abuse: bytes of one request (gRPC refuses larger ones before
  // they are parsed), bytes of all requests in flight, streams per connection, and calls
  // parked in a long-poll per connection and in total.
  int64_t max_request_bytes = 16 << 20;
  int64_t max_inflight_bytes = 256 << 20;
  int32_t max_streams_per_connection = 2000;
  int32_t max_long_polls_per_connection = 1000;
  int32_t max_long_polls = 10000;
};

// TLS of the gRPC listener (tls.h); an empty cert means plaintext.
struct TlsConfig {
  std::string cert;
  std::string key;
  std::string client_ca;  // set: clients must present a certificate it signed (mTLS)
  absl::Duration reload_interval = absl::Seconds(60);
};

struct Config {
  std::string listen = "127.0.0.1:7468";
  std::string dsn = "engine://./pgqrs.db";
  int32_t pool_size = 8;
  std::string notify_dsn;
  int32_t executor_threads = 8;
  int32_t executor_queue_limit = 100000;
  Limits limits;
  absl::Duration worker_timeout = absl::Seconds(30);
  absl::Duration heartbeat_reaper_interval = absl::Seconds(5);
  absl::Duration visibility_reaper_interval = absl::Seconds(1);
  absl::Duration archive_retention = absl::Hours(24 * 7);
  // Finished runs and stopped workers are deleted once older than this.
  storage::RetentionPolicy retention;
  absl::Duration shutdown_grace = absl::Seconds(10);
  absl::Duration health_check_interval = absl::Seconds(1);
  bool migrate = true;
  // Tokens file (tokens.h); empty means authentication is off.
  std::string auth_tokens_file;
  TlsConfig tls;
  // Prometheus /metrics address (HOST:PORT); empty: no metrics endpoint.
  std::string metrics_listen;
  int32_t metrics_max_queues = 100;
  // Allows a non-loopback --listen without TLS and authentication.
  bool insecure_listen = false;
  std::string log_level = "info";
  std::string log_format = "text";
  // The --flagfile files given, so SIGHUP can re-read the log level from them.
  std::vector<std::string> flagfiles;
};

// True when the --listen host is a loopback address (127.0.0.0/8, ::1, localhost).
bool ListensOnLoopback(const Config& config);

// The last valid --log_level=LEVEL line in `flagfiles` as they read now, or "" when they
// set none. An unreadable file or an invalid level is an error naming it.
absl::StatusOr<std::string> LogLevelInFlagfiles(const std::vector<std::string>& flagfiles);

// Parses argv (after merging PGQRS_* environment variables) into a Config. Exits with
// usage on --help. Returns INVALID_ARGUMENT naming the flag for a bad value; positional
// arguments are refused.
absl::StatusOr<Config> LoadConfig(int argc, char** argv);

}  // namespace pgqrs::server
