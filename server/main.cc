// pgqrsd: the pgqrs queue server daemon.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <cstdio>

#include "server/config.h"
#include "server/logging.h"
#include "server/server.h"
#include "storage/dsn.h"

int main(int argc, char** argv) {
  // SIGTERM/SIGINT/SIGHUP are taken by sigwait below, never by a handler on a random thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

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
    absl::Status reloaded = (*server)->ReloadTokens();
    if (reloaded.ok()) {
      spdlog::info("SIGHUP: reloaded the tokens file");
    } else {
      spdlog::error("SIGHUP: kept the tokens in force: {}", reloaded.ToString());
    }
  }
  spdlog::info("received {}, shutting down", signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
  sd_notify(0, "STOPPING=1");
  (*server)->Shutdown();
  server->reset();
  spdlog::info("stopped");
  return 0;
}
