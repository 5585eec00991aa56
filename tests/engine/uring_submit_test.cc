// The io_uring backend when the kernel refuses a submission or takes only part of it: a
// transient refusal (EAGAIN, EINTR, EBUSY) or a partial submission is finished and the batch
// lands; a lasting refusal fails the write, the file refuses every later call with the same
// error, and the writes left queued in the ring are never handed to the kernel afterwards.
#include <liburing.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <deque>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "engine/io/uring_backend.h"
#include "tests/engine/test_util.h"

namespace pgqrs::engine::testing {
namespace {

constexpr size_t kPage = 4096;
constexpr int kPages = 8;

// Stands in for io_uring_submit_and_wait. Each call takes the next step of `script`: a
// negative errno fails the call with nothing consumed, a positive k makes the kernel consume
// only the first k queued SQEs, 0 submits normally. With the script used up, calls fail with
// `then_fail` (a negative errno) or, when it is 0, submit normally. Records how many SQEs
// were queued at each call.
struct ScriptedSubmit {
  std::deque<int> script;
  int then_fail = 0;
  std::vector<unsigned> queued_at_call;

  int operator()(io_uring* ring, unsigned wait_nr) {
    queued_at_call.push_back(io_uring_sq_ready(ring));
    int step = then_fail;
    if (!script.empty()) {
      step = script.front();
      script.pop_front();
    }
    if (step < 0) return step;
    if (step > 0) return ConsumeOnly(ring, static_cast<unsigned>(step));
    return io_uring_submit_and_wait(ring, wait_nr);
  }

  // Publishes every queued SQE to the kernel, as liburing does, but lets io_uring_enter take
  // only `k` of them: what the kernel does when it stops a submission early.
  static int ConsumeOnly(io_uring* ring, unsigned k) {
    io_uring_smp_store_release(ring->sq.ktail, ring->sq.sqe_tail);
    ring->sq.sqe_head = ring->sq.sqe_tail;
    return io_uring_enter(ring->ring_fd, k, 0, 0, nullptr);
  }
};

std::shared_ptr<IoBackend> BackendWith(ScriptedSubmit& submit) {
  auto be = NewUringBackend(
      [&submit](io_uring* ring, unsigned wait_nr) { return submit(ring, wait_nr); });
  INFO("io_uring setup: " << be.status().ToString());
  REQUIRE(be.ok());
  return *be;
}

// One write per page of `data` (kPages pages from offset 0): a batch, so it goes through the
// ring.
std::vector<WriteOp> PageWrites(const std::string& data) {
  std::vector<WriteOp> ops;
  for (int i = 0; i < kPages; ++i) {
    ops.push_back({i * kPage, reinterpret_cast<const uint8_t*>(data.data()) + i * kPage, kPage});
  }
  return ops;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST_CASE("a transient submit failure is retried and the batch lands", "[engine][io]") {
  const int err = GENERATE(EAGAIN, EINTR, EBUSY);
  INFO("errno " << err);
  ScriptedSubmit submit;
  submit.script = {-err};
  const std::string path = NewTempDir("uring_submit") + "/f";
  auto f = BackendWith(submit)->Open(path, true, false);
  REQUIRE(f.ok());
  const std::string data(kPages * kPage, 'b');

  absl::Status s = (*f)->WriteAndSync(PageWrites(data));
  INFO(s.ToString());
  REQUIRE(s.ok());
  // The retry handed over the same batch, nothing more.
  REQUIRE(submit.queued_at_call == std::vector<unsigned>{kPages, kPages});
  std::string back(data.size(), '\0');
  auto got = (*f)->ReadAt(0, reinterpret_cast<uint8_t*>(back.data()), back.size());
  REQUIRE(got.ok());
  REQUIRE(back == data);
  REQUIRE(ReadWholeFile(path) == data);
}

TEST_CASE("a partial submission is finished by submitting the rest", "[engine][io]") {
  ScriptedSubmit submit;
  submit.script = {3, -EAGAIN};  // the kernel takes 3 writes, then refuses once
  const std::string path = NewTempDir("uring_submit") + "/f";
  auto f = BackendWith(submit)->Open(path, true, false);
  REQUIRE(f.ok());
  std::string data(kPages * kPage, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i / kPage);

  absl::Status s = (*f)->WriteAndSync(PageWrites(data));
  INFO(s.ToString());
  REQUIRE(s.ok());
  REQUIRE(submit.queued_at_call == std::vector<unsigned>{kPages, kPages - 3, kPages - 3});
  REQUIRE(ReadWholeFile(path) == data);

  // The ring is in step: the next batch is exactly its own writes, and lands.
  const std::string next(kPages * kPage, 'z');
  REQUIRE((*f)->WriteAndSync(PageWrites(next)).ok());
  REQUIRE(submit.queued_at_call.back() == kPages);
  REQUIRE(ReadWholeFile(path) == next);
}

TEST_CASE("a lasting submit failure breaks the file and no queued write is ever submitted",
          "[engine][io]") {
  // EAGAIN until retries run out; ENXIO is not transient. With a partial submission first,
  // the 3 writes the kernel took land, the other 5 never do.
  const int err = GENERATE(EAGAIN, ENXIO);
  const int consumed_first = GENERATE(0, 3);
  INFO("errno " << err << ", consumed first " << consumed_first);
  ScriptedSubmit submit;
  const std::string path = NewTempDir("uring_submit") + "/f";
  auto f = BackendWith(submit)->Open(path, true, false);
  REQUIRE(f.ok());
  const std::string old_data(kPages * kPage, 'a');
  REQUIRE((*f)->WriteAndSync(PageWrites(old_data)).ok());

  std::string buffer(kPages * kPage, 'b');
  if (consumed_first > 0) submit.script = {consumed_first};
  submit.then_fail = -err;
  absl::Status failed = (*f)->Write(PageWrites(buffer));
  INFO(failed.ToString());
  REQUIRE(!failed.ok());
  REQUIRE(failed.message().find(path) != std::string::npos);
  REQUIRE(failed.message().find("io_uring_submit") != std::string::npos);
  const size_t calls = submit.queued_at_call.size();
  REQUIRE(calls >= 1);
  REQUIRE(calls <= 10);  // retries are bounded

  // The caller reuses its buffer and the kernel would accept submissions again: the writes
  // still queued from the failed batch must not reach the file.
  buffer.assign(buffer.size(), 'c');
  submit.then_fail = 0;
  const std::string other(kPages * kPage, 'd');
  REQUIRE((*f)->Write(PageWrites(buffer)) == failed);
  REQUIRE((*f)->WriteAndSync(PageWrites(other)) == failed);
  REQUIRE((*f)->Write({{0, reinterpret_cast<const uint8_t*>(other.data()), kPage}}) == failed);
  REQUIRE((*f)->Sync() == failed);
  uint8_t page[kPage];
  REQUIRE((*f)->ReadAt(0, page, kPage).status() == failed);
  REQUIRE(submit.queued_at_call.size() == calls);
  f->reset();  // closing the file submits nothing either

  std::string expected = old_data;
  expected.replace(0, consumed_first * kPage, consumed_first * kPage, 'b');
  REQUIRE(ReadWholeFile(path) == expected);
}

}  // namespace
}  // namespace pgqrs::engine::testing
