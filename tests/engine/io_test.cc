// The I/O backends under failure: when one write of a batch fails, the batch reports the
// error and every later call still sees its own result (no stale io_uring completion). And
// the io_uring backend keeps single waited-for ops off io_uring's worker threads.
#include <dirent.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/engine/test_util.h"

namespace pgqrs::engine::testing {
namespace {

constexpr size_t kChunk = 1 << 20;
constexpr int kChunks = 16;
constexpr uint64_t kFileSize = uint64_t{kChunks} * kChunk;
// A negative file offset: the kernel rejects the write with EINVAL on every file system.
constexpr uint64_t kBadOffset = (uint64_t{1} << 63) + 4096;
// io_uring completes the failing write at a varying point among the others; this many rounds
// make it land before some of them with near certainty.
constexpr int kRounds = 20;

const uint8_t* Bytes(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

TEST_CASE("a failed write in a batch is reported and later reads see their own results",
          "[engine][io]") {
  const std::string backend = GENERATE(as<std::string>{}, "uring", "posix");
  const std::string path = NewTempDir("io") + "/f";
  auto be = MakeBackend(backend);
  auto f = be->Open(path, true, false);
  REQUIRE(f.ok());
  const std::string old_chunk(kChunk, 'a'), new_chunk(kChunk, 'b');
  std::vector<WriteOp> fill, batch;
  batch.push_back({kBadOffset, Bytes(new_chunk), 4096});
  for (int i = 0; i < kChunks; ++i) {
    fill.push_back({i * kChunk, Bytes(old_chunk), kChunk});
    batch.push_back({i * kChunk, Bytes(new_chunk), kChunk});
  }
  REQUIRE((*f)->Write(fill).ok());

  for (int round = 0; round < kRounds; ++round) {
    INFO("round " << round);
    absl::Status s = (*f)->Write(batch);
    INFO(s.ToString());
    REQUIRE(absl::IsInvalidArgument(s));
    // A stale write completion would report a whole chunk for these short reads, and for
    // the read at the end of the file.
    for (int i = 0; i < kChunks; ++i) {
      uint8_t buf[100];
      auto got = (*f)->ReadAt(i * kChunk + 10, buf, sizeof(buf));
      REQUIRE(got.ok());
      REQUIRE(*got == sizeof(buf));
      const std::string seen(reinterpret_cast<const char*>(buf), sizeof(buf));
      REQUIRE((seen == old_chunk.substr(0, 100) || seen == new_chunk.substr(0, 100)));
    }
    uint8_t tail[4096];
    auto at_end = (*f)->ReadAt(kFileSize, tail, sizeof(tail));
    REQUIRE(at_end.ok());
    REQUIRE(*at_end == 0);
  }
  // The file stays usable: a rewrite with sync succeeds and reads back.
  REQUIRE((*f)->WriteAndSync(fill).ok());
  std::string back(kChunk, '\0');
  auto got = (*f)->ReadAt(3 * kChunk, reinterpret_cast<uint8_t*>(back.data()), kChunk);
  REQUIRE(got.ok());
  REQUIRE(back == old_chunk);
}

// Thread ids of this process's io_uring worker threads (comm "iou-wrk-<tid>"; the tid in the
// name is outside the test's pid namespace, so workers are told apart by their own ids).
std::set<std::string> IoWorkerThreads() {
  std::set<std::string> ids;
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return {"(no /proc/self/task)"};
  while (dirent* e = readdir(dir)) {
    std::ifstream comm(std::string("/proc/self/task/") + e->d_name + "/comm");
    std::string name;
    if (std::getline(comm, name) && name.rfind("iou-wrk-", 0) == 0) ids.insert(e->d_name);
  }
  closedir(dir);
  return ids;
}

// A commit at batch 1 is one WAL append and one fdatasync, each waited for alone. Punting
// them to io-wq worker threads only adds wake-ups, so the backend must issue them directly:
// no worker thread may appear while a fresh thread does them (a worker idles for seconds
// before it exits, so one would still be listed).
TEST_CASE("io_uring runs single reads, writes and syncs on the calling thread", "[engine][io]") {
  const std::string path = NewTempDir("iodirect") + "/f";
  auto be = MakeBackend("uring");
  const std::string page(4096, 'p');
  absl::Status status;
  const std::set<std::string> before = IoWorkerThreads();
  std::set<std::string> new_workers;
  std::thread caller([&] {
    auto f = be->Open(path, true, false);
    status = f.status();
    if (!status.ok()) return;
    status.Update((*f)->Write({{0, Bytes(page), page.size()}}));
    status.Update((*f)->Sync());
    status.Update((*f)->WriteAndSync({{4096, Bytes(page), page.size()}}));
    uint8_t back[4096];
    auto got = (*f)->ReadAt(4096, back, sizeof(back));
    status.Update(got.status());
    if (got.ok() && (*got != sizeof(back) || back[4095] != 'p')) {
      status.Update(absl::InternalError("read back the wrong bytes"));
    }
    for (const std::string& id : IoWorkerThreads()) {
      if (before.count(id) == 0) new_workers.insert(id);
    }
  });
  caller.join();
  INFO(status.ToString());
  REQUIRE(status.ok());
  REQUIRE(new_workers.empty());
}

TEST_CASE("directories can be synced", "[engine][io]") {
  const std::string backend = GENERATE(as<std::string>{}, "uring", "posix");
  const std::string dir = NewTempDir("iodir");
  auto be = MakeBackend(backend);
  REQUIRE(be->Open(dir + "/new", true, false).ok());
  REQUIRE(be->SyncDirectory(dir).ok());
  REQUIRE(absl::IsNotFound(be->SyncDirectory(dir + "/missing")));
}

}  // namespace
}  // namespace pgqrs::engine::testing
