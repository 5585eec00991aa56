// Daemon runs the real pgqrsd binary in a child process for integration tests: it listens
// on 127.0.0.1:0 and the bound port is read from its log.
#pragma once

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

namespace pgqrs::testing {

// Path of a binary in the test's runfiles, e.g. Runfile("server/pgqrsd").
std::string Runfile(const std::string& path);

// A fresh path under TEST_TMPDIR.
std::string TempPath(const std::string& name);

// The store the test runs against: PGQRS_TEST_STORE ("engine", "sqlite" or "postgres").
// Each integration test target is built once per store (see tests/integration/BUILD.bazel).
std::string TestStore();

// True when PGQRS_TEST_ENCRYPT=1: the engine store's databases are then encrypted with a
// key file under TEST_TMPDIR (engine/FORMAT.md section 5).
bool TestStoreEncrypted();

// True when PGQRS_TEST_MVCC=1: the engine store's databases then run concurrent writers
// (engine://...?mvcc=on, engine/MVCC.md section 7).
bool TestStoreMvcc();

// The pgqrs-engine key options for TestDsn's databases ("--key-file=... --key-id=7"), or ""
// when they are plain.
std::string TestKeyOptions();

// The DSN of database file `path` on TestStore(), e.g. "engine:///tmp/.../q.db", with the key
// options when TestStoreEncrypted() and mvcc=on when TestStoreMvcc().
std::string DsnForPath(const std::string& path);

// A DSN for a fresh database named `name` on TestStore(): DsnForPath of a fresh file, or
// on postgres a fresh schema in the cluster of PGQRS_TEST_PG_DSN (tools/pg/with_cluster.sh).
std::string TestDsn(const std::string& name);

// "--dsn=" + TestDsn(name).
std::string DsnFlag(const std::string& name);

class Daemon {
 public:
  // Starts pgqrsd with `flags` (plus --listen=127.0.0.1:0) and waits until it listens.
  // Fails the test (REQUIRE) if it does not within 20 s.
  explicit Daemon(std::vector<std::string> flags);
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;
  // Kills the daemon (SIGKILL) if it still runs.
  ~Daemon();

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::shared_ptr<grpc::Channel> Channel() const;

  // Sends `signal` and waits for the exit; returns the exit status (or 128 + signal).
  int Stop(int signal);
  // Threads of the daemon process now, from /proc.
  int ThreadCount() const;
  // Everything the daemon logged so far.
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_path_;
};

// Runs `command` with a shell; returns {exit status, stdout}. stderr goes to `*err` when
// given.
std::pair<int, std::string> RunCommand(const std::string& command, std::string* err = nullptr);

}  // namespace pgqrs::testing
