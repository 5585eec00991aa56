#include "tools/faultcheck/daemons.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"

namespace pgqrs::faultcheck {
namespace {

std::string ReadFrom(const std::string& path, std::streamoff offset) {
  std::ifstream in(path);
  in.seekg(offset);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::streamoff FileSize(const std::string& path) {
  std::ifstream in(path, std::ios::ate);
  return in ? static_cast<std::streamoff>(in.tellg()) : 0;
}

}  // namespace

DaemonProcess::DaemonProcess(std::string binary, std::string dsn, std::vector<std::string> flags,
                             std::string log_path)
    : binary_(std::move(binary)),
      dsn_(std::move(dsn)),
      flags_(std::move(flags)),
      log_path_(std::move(log_path)) {}

DaemonProcess::~DaemonProcess() {
  if (running()) Kill();
}

absl::Status DaemonProcess::Start(absl::Duration timeout) {
  std::streamoff log_offset = FileSize(log_path_);
  std::vector<std::string> args = {binary_, absl::StrCat("--listen=127.0.0.1:", port_)};
  args.insert(args.end(), flags_.begin(), flags_.end());
  pid_ = fork();
  if (pid_ < 0) return absl::InternalError("fork failed");
  if (pid_ == 0) {
    int log = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(log, STDERR_FILENO);
    setenv("PGQRS_DSN", dsn_.c_str(), 1);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(binary_.c_str(), argv.data());
    _exit(127);
  }
  std::regex listening("listening on 127\\.0\\.0\\.1:([0-9]+)");
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    std::smatch match;
    std::string log = ReadFrom(log_path_, log_offset);
    if (std::regex_search(log, match, listening)) {
      port_ = std::stoi(match[1]);
      return absl::OkStatus();
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::UnavailableError(absl::StrCat("pgqrsd exited at start-up; see ", log_path_));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Kill();
  return absl::DeadlineExceededError(absl::StrCat("pgqrsd did not listen; see ", log_path_));
}

void DaemonProcess::SignalAndReap(int signal) {
  if (!running()) return;
  kill(pid_, signal);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void DaemonProcess::Kill() {
  if (running()) kill(pid_, SIGCONT);
  SignalAndReap(SIGKILL);
}

void DaemonProcess::Pause() {
  if (running()) kill(pid_, SIGSTOP);
}

void DaemonProcess::Resume() {
  if (running()) kill(pid_, SIGCONT);
}

void DaemonProcess::Terminate() {
  Resume();
  SignalAndReap(SIGTERM);
}

}  // namespace pgqrs::faultcheck
