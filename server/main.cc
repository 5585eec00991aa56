// pgqrsd: the pgqrs queue server daemon.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <cstdio>

#include "absl/synchronization/mutex.h"
#include "server/config.h"
#include "server/logging.h"
#include "server/server.h"
#include "storage/dsn.h"

namespace {

// SIGHUP: the tokens file and the log level (from the --flagfile files) are read again;
// what cannot be read stays as it was.
void Reload(pgqrs::server::Server& server, const pgqrs::server::Config& config) {
  absl::Status tokens = server.ReloadTokens();
  if (tokens.ok()) {
    spdlog::info("SIGHUP: reloaded the tokens file");
  } else {
    spdlog::error("SIGHUP: kept the tokens in force: {}", tokens.ToString());
  }
  absl::StatusOr<std::string> level = pgqrs::server::LogLevelInFlagfiles(config.flagfiles);
  if (!level.ok()) {
    spdlog::error("SIGHUP: kept the log level: {}", level.status().ToString());
  } else if (!level->empty()) {
    spdlog::warn("SIGHUP: log level {}", *level);  // before a stricter level hides it
    pgqrs::server::SetLogLevel(*level);
  }
}

}  // namespace

int main(int argc, char** argv) {
  // SIGTERM/SIGINT/SIGHUP are taken by sigwait below, never by a handler on a random thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // Debian's Abseil is built with Mutex deadlock detection on: every lock then updates a
  // lock-order graph and records stack traces, a few percent of the daemon's CPU per call.
  // The test binaries keep it on and catch lock-order inversions there.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  absl::StatusOr<pgqrs::server::Config> config = pgqrs::server::LoadConfig(argc, argv);
  if (!config.ok()) {
    std::fprintf(stderr, "pgqrsd: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  pgqrs::server::SetUpLogging(config->log_level, config->log_format);
  if (!pgqrs::server::ListensOnLoopback(*config) &&
      (config->tls.cert.empty() || config->auth_tokens_file.empty())) {
    spdlog::warn("--insecure_listen: serving on {} without {}, reachable from other hosts",
                 config->listen, config->tls.cert.empty() ? "TLS" : "authentication");
  }

  auto server = pgqrs::server::Server::Start(*config);
  if (!server.ok()) {
    spdlog::error("cannot start: {}", server.status().ToString());
    return 1;
  }
  std::string host = config->listen.substr(0, config->listen.rfind(':'));
  spdlog::info("pgqrsd {} listening on {}:{}, storage {}", pgqrs::server::kServerVersion, host,
               (*server)->port(), pgqrs::storage::RedactDsn(config->dsn));
  if ((*server)->metrics_port() != 0) {
    std::string metrics_host = config->metrics_listen.substr(0, config->metrics_listen.rfind(':'));
    spdlog::info("metrics on http://{}:{}/metrics", metrics_host, (*server)->metrics_port());
  }
  sd_notify(0, "READY=1");

  int signal_number = 0;
  while (sigwait(&signals, &signal_number) == 0 && signal_number == SIGHUP) {
    Reload(**server, *config);
  }
  spdlog::info("received {}, shutting down", signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
  sd_notify(0, "STOPPING=1");
  (*server)->Shutdown();
  server->reset();
  spdlog::info("stopped");
  return 0;
}
