#include "tools/bench/beanstalk_client.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/base/status_macros.h"

namespace pgqrs::bench {
namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr int kPriority = 1024;

absl::Status Errno(const std::string& what) {
  return absl::UnavailableError(absl::StrCat("beanstalk: ", what, ": ", std::strerror(errno)));
}

absl::StatusOr<int> Dial(const std::string& host_port) {
  size_t colon = host_port.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("beanstalk address ", host_port, ": expected HOST:PORT"));
  }
  std::string host = host_port.substr(0, colon);
  std::string port = host_port.substr(colon + 1);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0 || found == nullptr) {
    return absl::UnavailableError(absl::StrCat("beanstalk: cannot resolve ", host_port));
  }
  int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int rc = fd < 0 ? -1 : connect(fd, found->ai_addr, found->ai_addrlen);
  freeaddrinfo(found);
  if (rc != 0) {
    absl::Status status = Errno(absl::StrCat("connect ", host_port));
    if (fd >= 0) close(fd);
    return status;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

}  // namespace

absl::Status BeanstalkError(const std::string& line) {
  if (line == "OUT_OF_MEMORY" || line == "DRAINING" || line == "JOB_TOO_BIG") {
    return absl::ResourceExhaustedError(absl::StrCat("beanstalk: ", line));
  }
  if (line == "NOT_FOUND") return absl::NotFoundError("beanstalk: NOT_FOUND");
  return absl::InternalError(absl::StrCat("beanstalk: unexpected reply \"", line, "\""));
}

absl::StatusOr<std::unique_ptr<BeanstalkClient>> BeanstalkClient::Connect(
    const std::string& host_port) {
  PGQRS_ASSIGN_OR_RETURN(int fd, Dial(host_port));
  return std::unique_ptr<BeanstalkClient>(new BeanstalkClient(fd));
}

BeanstalkClient::~BeanstalkClient() { close(fd_); }

absl::Status BeanstalkClient::Send(const std::string& data) {
  for (size_t sent = 0; sent < data.size();) {
    ssize_t n = send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Errno("send");
    sent += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status BeanstalkClient::Fill() {
  if (in_pos_ > 0 && in_pos_ == in_.size()) {
    in_.clear();
    in_pos_ = 0;
  }
  size_t old = in_.size();
  in_.resize(old + kReadChunk);
  ssize_t n;
  do {
    n = recv(fd_, in_.data() + old, kReadChunk, 0);
  } while (n < 0 && errno == EINTR);
  in_.resize(old + (n > 0 ? n : 0));
  if (n == 0) return absl::UnavailableError("beanstalk: connection closed");
  if (n < 0) return Errno("recv");
  return absl::OkStatus();
}

absl::StatusOr<std::string> BeanstalkClient::ReadLine() {
  for (;;) {
    size_t end = in_.find("\r\n", in_pos_);
    if (end != std::string::npos) {
      std::string line = in_.substr(in_pos_, end - in_pos_);
      in_pos_ = end + 2;
      return line;
    }
    PGQRS_RETURN_IF_ERROR(Fill());
  }
}

absl::StatusOr<std::string> BeanstalkClient::ReadBody(size_t n) {
  while (in_.size() - in_pos_ < n + 2) PGQRS_RETURN_IF_ERROR(Fill());
  std::string body = in_.substr(in_pos_, n);
  in_pos_ += n + 2;
  return body;
}

absl::Status BeanstalkClient::Simple(const std::string& command, const std::string& expected) {
  PGQRS_RETURN_IF_ERROR(Send(command + "\r\n"));
  PGQRS_ASSIGN_OR_RETURN(std::string line, ReadLine());
  if (!absl::StartsWith(line, expected)) return BeanstalkError(line);
  return absl::OkStatus();
}

absl::Status BeanstalkClient::Use(const std::string& tube) {
  return Simple("use " + tube, "USING ");
}

absl::Status BeanstalkClient::Watch(const std::string& tube) {
  return Simple("watch " + tube, "WATCHING ");
}

absl::Status BeanstalkClient::Ignore(const std::string& tube) {
  return Simple("ignore " + tube, "WATCHING ");
}

absl::StatusOr<std::vector<uint64_t>> BeanstalkClient::Put(std::span<const std::string> bodies,
                                                           int ttr_seconds) {
  std::string out;
  for (const std::string& body : bodies) {
    absl::StrAppend(&out, "put ", kPriority, " 0 ", ttr_seconds, " ", body.size(), "\r\n", body,
                    "\r\n");
  }
  PGQRS_RETURN_IF_ERROR(Send(out));
  std::vector<uint64_t> ids;
  ids.reserve(bodies.size());
  for (size_t i = 0; i < bodies.size(); ++i) {
    PGQRS_ASSIGN_OR_RETURN(std::string line, ReadLine());
    uint64_t id = 0;
    if (!absl::StartsWith(line, "INSERTED ") || !absl::SimpleAtoi(line.substr(9), &id)) {
      return BeanstalkError(line);
    }
    ids.push_back(id);
  }
  return ids;
}

absl::StatusOr<BeanstalkClient::Job> BeanstalkClient::ReadReserved() {
  PGQRS_ASSIGN_OR_RETURN(std::string line, ReadLine());
  if (line == "TIMED_OUT" || line == "DEADLINE_SOON") return Job{};
  std::vector<std::string> parts = absl::StrSplit(line, ' ');
  Job job;
  size_t bytes = 0;
  if (parts.size() != 3 || parts[0] != "RESERVED" || !absl::SimpleAtoi(parts[1], &job.id) ||
      !absl::SimpleAtoi(parts[2], &bytes)) {
    return BeanstalkError(line);
  }
  PGQRS_ASSIGN_OR_RETURN(job.body, ReadBody(bytes));
  return job;
}

absl::StatusOr<std::vector<BeanstalkClient::Job>> BeanstalkClient::Reserve(int max,
                                                                           int timeout_seconds) {
  std::vector<Job> jobs;
  PGQRS_RETURN_IF_ERROR(Send(absl::StrCat("reserve-with-timeout ", timeout_seconds, "\r\n")));
  PGQRS_ASSIGN_OR_RETURN(Job first, ReadReserved());
  if (first.id == 0) return jobs;
  jobs.push_back(std::move(first));
  if (max <= 1) return jobs;
  std::string out;
  for (int i = 1; i < max; ++i) out += "reserve-with-timeout 0\r\n";
  PGQRS_RETURN_IF_ERROR(Send(out));
  for (int i = 1; i < max; ++i) {
    PGQRS_ASSIGN_OR_RETURN(Job job, ReadReserved());
    if (job.id != 0) jobs.push_back(std::move(job));
  }
  return jobs;
}

absl::Status BeanstalkClient::Delete(std::span<const uint64_t> ids) {
  std::string out;
  for (uint64_t id : ids) absl::StrAppend(&out, "delete ", id, "\r\n");
  PGQRS_RETURN_IF_ERROR(Send(out));
  absl::Status first_error;
  for (size_t i = 0; i < ids.size(); ++i) {
    PGQRS_ASSIGN_OR_RETURN(std::string line, ReadLine());
    if (line != "DELETED" && first_error.ok()) first_error = BeanstalkError(line);
  }
  return first_error;
}

}  // namespace pgqrs::bench
