// BeanstalkClient speaks beanstalkd's text protocol (protocol.txt, 1.12) over one TCP
// connection: the few commands a producer and a consumer need. Commands that take a
// list are pipelined: every request is written before the first reply is read, which
// the protocol allows and which is how a client batches.
//
// Errors: UNAVAILABLE when the connection fails, RESOURCE_EXHAUSTED for OUT_OF_MEMORY,
// DRAINING and JOB_TOO_BIG, NOT_FOUND for a job that is gone, INTERNAL for any reply the
// protocol does not allow. After an error the connection is unusable.
//
// Thread safety: none; one client per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pgqrs::bench {

class BeanstalkClient {
 public:
  struct Job {
    uint64_t id = 0;
    std::string body;
  };

  // Connects to `host_port` ("127.0.0.1:11300").
  static absl::StatusOr<std::unique_ptr<BeanstalkClient>> Connect(const std::string& host_port);
  BeanstalkClient(const BeanstalkClient&) = delete;
  BeanstalkClient& operator=(const BeanstalkClient&) = delete;
  ~BeanstalkClient();

  // `use`: later puts go to `tube`.
  absl::Status Use(const std::string& tube);
  // `watch`: reserves take from `tube` too.
  absl::Status Watch(const std::string& tube);
  // `ignore`: reserves stop taking from `tube`.
  absl::Status Ignore(const std::string& tube);

  // `put` each body (priority, no delay, time-to-run `ttr_seconds`); returns the job ids.
  absl::StatusOr<std::vector<uint64_t>> Put(std::span<const std::string> bodies, int ttr_seconds);
  // Reserves up to `max` jobs: the first waits up to `timeout_seconds` (0: does not
  // wait), the rest only take what is ready now. Empty when nothing came in time.
  absl::StatusOr<std::vector<Job>> Reserve(int max, int timeout_seconds);
  // `delete` each job.
  absl::Status Delete(std::span<const uint64_t> ids);

 private:
  explicit BeanstalkClient(int fd) : fd_(fd) {}

  absl::Status Send(const std::string& data);
  // The next reply line, without its "\r\n".
  absl::StatusOr<std::string> ReadLine();
  // The next `n` bytes and the "\r\n" after them.
  absl::StatusOr<std::string> ReadBody(size_t n);
  absl::Status Fill();
  // Sends `command` and checks that the reply starts with `expected`.
  absl::Status Simple(const std::string& command, const std::string& expected);
  // Reads one reply to a reserve: a job, or a Job with id 0 (ids start at 1) when none
  // was ready in time.
  absl::StatusOr<Job> ReadReserved();

  int fd_;
  std::string in_;  // received, not yet consumed
  size_t in_pos_ = 0;
};

// The status a reply line that is not the expected one stands for.
absl::Status BeanstalkError(const std::string& line);

}  // namespace pgqrs::bench
