#include "tests/support/daemon.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

namespace pgqrs::testing {

std::string Runfile(const std::string& path) {
  const char* dir = std::getenv("TEST_SRCDIR");
  REQUIRE(dir != nullptr);
  return std::string(dir) + "/pgqrs/" + path;
}

std::string TempPath(const std::string& name) {
  static std::atomic<int> counter{0};
  const char* dir = std::getenv("TEST_TMPDIR");
  REQUIRE(dir != nullptr);
  return std::string(dir) + "/" + std::to_string(getpid()) + "-" + std::to_string(counter++) + "-" +
         name;
}

std::string TestStore() {
  const char* store = std::getenv("PGQRS_TEST_STORE");
  REQUIRE(store != nullptr);
  std::string name(store);
  REQUIRE((name == "engine" || name == "sqlite" || name == "postgres"));
  return name;
}

bool TestStoreEncrypted() {
  const char* encrypt = std::getenv("PGQRS_TEST_ENCRYPT");
  if (encrypt == nullptr) return false;
  REQUIRE(std::string(encrypt) == "1");
  REQUIRE(TestStore() == "engine");
  return true;
}

bool TestStoreMvcc() {
  const char* mvcc = std::getenv("PGQRS_TEST_MVCC");
  if (mvcc == nullptr) return false;
  REQUIRE(std::string(mvcc) == "1");
  REQUIRE(TestStore() == "engine");
  return true;
}

namespace {

// A 0600 key file under TEST_TMPDIR, written once per test process.
const std::string& TestKeyFile() {
  static const std::string path = [] {
    std::string p = TempPath("engine.key");
    std::ofstream(p) << "3f1c9a7e5b2d4f6081a3c5e7092b4d6f8a1c3e5070b2d4f6a8c0e1f3a5b7d9e1\n";
    REQUIRE(chmod(p.c_str(), 0600) == 0);
    return p;
  }();
  return path;
}

// The test cluster's DSN with a fresh schema named after `name`.
std::string PostgresDsn(const std::string& name) {
  static std::atomic<int> counter{0};
  const char* cluster = std::getenv("PGQRS_TEST_PG_DSN");
  INFO("PGQRS_TEST_PG_DSN is not set: run through tools/pg/with_cluster.sh or tools/dev.sh test");
  REQUIRE(cluster != nullptr);
  REQUIRE(*cluster != '\0');
  std::string schema = "t";
  for (char c : name) schema += std::isalnum(static_cast<unsigned char>(c)) ? std::tolower(c) : '_';
  // Not the pid: tests in Bazel's sandboxes run in their own pid namespaces, so concurrent
  // runs share pids.
  static const uint32_t run_id = std::random_device{}();
  schema += "_" + std::to_string(run_id) + "_" + std::to_string(counter++);
  std::string dsn(cluster);
  return dsn + (dsn.find('?') == std::string::npos ? "?" : "&") + "schema=" + schema;
}

}  // namespace

std::string TestKeyOptions() {
  if (!TestStoreEncrypted()) return "";
  return "--key-file=" + TestKeyFile() + " --key-id=7";
}

std::string DsnForPath(const std::string& path) {
  std::vector<std::string> options;
  if (TestStoreEncrypted()) options.push_back("key_file=" + TestKeyFile() + "&key_id=7");
  if (TestStoreMvcc()) options.push_back("mvcc=on");
  std::string dsn = TestStore() + "://" + path;
  for (size_t i = 0; i < options.size(); ++i) dsn += (i == 0 ? "?" : "&") + options[i];
  return dsn;
}

std::string TestDsn(const std::string& name) {
  if (TestStore() == "postgres") return PostgresDsn(name);
  return DsnForPath(TempPath(name));
}

std::string DsnFlag(const std::string& name) { return "--dsn=" + TestDsn(name); }

Daemon::Daemon(std::vector<std::string> flags) {
  log_path_ = TempPath("pgqrsd.log");
  std::string binary = Runfile("server/pgqrsd");
  flags.insert(flags.begin(), "--listen=127.0.0.1:0");
  pid_ = fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    FILE* log = std::fopen(log_path_.c_str(), "w");
    dup2(fileno(log), STDERR_FILENO);
    std::vector<char*> argv = {binary.data()};
    for (std::string& f : flags) argv.push_back(f.data());
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  std::regex listening("listening on 127\\.0\\.0\\.1:([0-9]+)");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    std::smatch match;
    std::string log = Log();
    if (std::regex_search(log, match, listening)) {
      port_ = std::stoi(match[1]);
      return;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      FAIL("pgqrsd exited at start-up: " << log);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  FAIL("pgqrsd did not start listening: " << Log());
}

Daemon::~Daemon() {
  if (pid_ > 0) Stop(SIGKILL);
}

std::shared_ptr<grpc::Channel> Daemon::Channel() const {
  return grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
}

int Daemon::Stop(int signal) {
  if (pid_ <= 0) return -1;
  kill(pid_, signal);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int Daemon::ThreadCount() const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

std::string Daemon::Log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::pair<int, std::string> RunCommand(const std::string& command, std::string* err) {
  std::string err_path = TempPath("stderr");
  std::string full = command + " 2>" + err_path;
  FILE* pipe = popen(full.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  int status = pclose(pipe);
  if (err != nullptr) {
    std::ifstream in(err_path);
    std::stringstream ss;
    ss << in.rdbuf();
    *err = ss.str();
  }
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace pgqrs::testing
