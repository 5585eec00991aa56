// pgqrsd child processes that faultcheck starts, kills, pauses and restarts on the same data
// and the same port (clients keep their channels and reconnect by themselves).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace pgqrs::faultcheck {

class DaemonProcess {
 public:
  // `dsn` reaches the daemon in its environment (PGQRS_DSN), never on a command line.
  // The daemon's log goes to `log_path` (appended to on every start).
  DaemonProcess(std::string binary, std::string dsn, std::vector<std::string> flags,
                std::string log_path);
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;
  ~DaemonProcess();  // SIGKILLs a daemon that still runs

  // Starts the daemon and waits (up to `timeout`) until it listens. The first start picks a
  // free port; later starts reuse it.
  absl::Status Start(absl::Duration timeout = absl::Seconds(30));
  void Kill();       // SIGKILL (continuing a paused daemon first) and reap
  void Pause();      // SIGSTOP
  void Resume();     // SIGCONT
  void Terminate();  // SIGTERM and reap: the clean shutdown at the end of a run

  bool running() const { return pid_ > 0; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  void SignalAndReap(int signal);

  std::string binary_;
  std::string dsn_;
  std::vector<std::string> flags_;
  std::string log_path_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace pgqrs::faultcheck
