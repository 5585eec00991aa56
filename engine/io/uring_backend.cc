// io_uring backend (liburing). io_uring is used only where it saves work: a batch of several
// writes (a checkpoint) is submitted in one io_uring_enter and reaped together. What the
// caller waits for one op at a time runs as a plain syscall on the calling thread: fdatasync,
// and a lone read or write (one WAL append, one page read). The kernel cannot complete an
// fsync inline, and often not a buffered write either, so io_uring punts them to an io-wq
// worker thread; for a single op that only adds wake-ups. Measured with store-bench, enqueue
// at batch 1 on ext4 (engine/README.md, "io_uring at batch 1"): all ops on the ring ~2,200
// messages/s and ~6 voluntary context switches per message; direct fdatasync ~5,700; direct
// fdatasync and single read/write ~7,600 and ~2.1 switches, on par with POSIX.
// IORING_SETUP_COOP_TASKRUN made no measurable difference and is not used;
// IORING_SETUP_SINGLE_ISSUER does not fit, as any thread may write.
// Concurrency: the ring is shared under a mutex; the direct syscalls take no lock, so one
// thread's fdatasync runs while another writes (group commit).
#include "engine/io/uring_backend.h"

#include <liburing.h>
#include <unistd.h>

#include <cerrno>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "engine/base/errno_status.h"
#include "engine/io/io_backend.h"
#include "engine/io/posix_file_util.h"

namespace pgqrs::engine {
namespace {

constexpr unsigned kRingEntries = 128;
// Transient submission failures tolerated per batch. EAGAIN and EBUSY back off 1, 2, 4, ...
// ms (the kernel is short of memory, or of room for completions), about 60 ms in all.
constexpr int kMaxSubmitRetries = 6;

bool IsTransientSubmitError(int err) { return err == EINTR || err == EAGAIN || err == EBUSY; }

// Hands every SQE queued on `ring` to the kernel through `submit`, including those a partial
// submission left queued, retrying transient failures. On failure returns the error with
// `context`; the SQEs the kernel did not consume are then still queued.
absl::Status SubmitQueued(const UringSubmitFn& submit, io_uring* ring, unsigned wait_nr,
                          const std::string& context) {
  int retries = 0;
  while (io_uring_sq_ready(ring) > 0) {
    int r = submit(ring, wait_nr);
    if (r > 0) continue;
    int err = r < 0 ? -r : EAGAIN;  // nothing consumed and no error: treat as busy
    if (!IsTransientSubmitError(err) || retries == kMaxSubmitRetries) {
      return ErrnoToStatus(context, err);
    }
    if (err != EINTR) absl::SleepFor(absl::Milliseconds(1 << retries));
    ++retries;
  }
  return absl::OkStatus();
}

class Ring {
 public:
  ~Ring() {
    if (ok_) io_uring_queue_exit(&ring_);
  }
  absl::Status Init(unsigned entries) {
    int r = io_uring_queue_init(entries, &ring_, 0);
    if (r < 0) return ErrnoToStatus("io_uring_queue_init", -r);
    ok_ = true;
    return absl::OkStatus();
  }
  io_uring* get() { return &ring_; }

 private:
  io_uring ring_;
  bool ok_ = false;
};

// Progress of one write within a batch.
struct Pending {
  const uint8_t* data;
  uint64_t offset;
  size_t left;
};

class UringFile final : public File {
 public:
  UringFile(int fd, std::string path, UringSubmitFn submit)
      : fd_(fd), path_(std::move(path)), submit_(std::move(submit)) {}
  ~UringFile() override { ::close(fd_); }

  absl::Status Init() { return io_.Init(kRingEntries); }

  absl::StatusOr<size_t> ReadAt(uint64_t offset, uint8_t* dst, size_t n) override {
    if (absl::Status b = Broken(); !b.ok()) return b;
    return FdReadFull(fd_, path_, offset, dst, n);
  }

  absl::Status Write(const std::vector<WriteOp>& ops) override {
    if (absl::Status b = Broken(); !b.ok()) return b;
    if (ops.size() == 1) return FdWriteFull(fd_, path_, ops[0].offset, ops[0].data, ops[0].size);
    absl::MutexLock l(&io_mu_);
    return WriteLocked(ops);
  }

  absl::Status WriteAndSync(const std::vector<WriteOp>& ops) override {
    absl::Status s = Write(ops);
    if (!s.ok()) return s;
    return Sync();
  }

  absl::Status Sync() override {
    if (absl::Status b = Broken(); !b.ok()) return b;
    return FdDataSync(fd_, path_);
  }

  absl::StatusOr<uint64_t> Size() override { return FdSize(fd_, path_); }
  absl::Status Truncate(uint64_t size) override { return FdTruncate(fd_, path_, size); }
  absl::Status Lock(uint64_t start, uint64_t len, bool exclusive) override {
    return FdOfdLock(fd_, path_, start, len, exclusive);
  }

 private:
  // Consumes exactly `n` completions, passing (user data, result) of each to `on_cqe`, even
  // when some of them failed: a completion left in the ring would be taken by the next
  // submission as its own. If the ring itself fails, the file refuses all further I/O.
  template <typename OnCqe>
  absl::Status ReapAll(io_uring* ring, unsigned n, OnCqe on_cqe) {
    for (unsigned seen = 0; seen < n;) {
      io_uring_cqe* cqe;
      int w = io_uring_wait_cqe(ring, &cqe);
      if (w == -EINTR || w == -EAGAIN) continue;
      if (w < 0) return MarkBroken(ErrnoToStatus(path_ + ": io_uring_wait_cqe", -w));
      on_cqe(io_uring_cqe_get_data64(cqe), cqe->res);
      io_uring_cqe_seen(ring, cqe);
      ++seen;
    }
    return absl::OkStatus();
  }

  absl::Status Broken() {
    absl::MutexLock l(&broken_mu_);
    return broken_;
  }

  // Makes every later call of this file fail with `error`: the ring is in a state no later
  // batch may build on.
  absl::Status MarkBroken(const absl::Status& error) {
    absl::MutexLock l(&broken_mu_);
    broken_ = absl::Status(error.code(), std::string(error.message()) + " (file unusable)");
    return broken_;
  }

  // Submits the batch of `n` queued writes. If that fails, the writes the kernel consumed are
  // reaped first (the caller's buffers must be free of the kernel when the error returns), and
  // the file is marked broken: the unconsumed SQEs stay queued with pointers into the caller's
  // buffers, and any later submission would hand them to the kernel as well.
  absl::Status SubmitBatch(unsigned n) ABSL_EXCLUSIVE_LOCKS_REQUIRED(io_mu_) {
    absl::Status s = SubmitQueued(submit_, io_.get(), n, path_ + ": io_uring_submit");
    if (s.ok()) return s;
    unsigned consumed = n - io_uring_sq_ready(io_.get());
    absl::Status reaped = ReapAll(io_.get(), consumed, [](uint64_t, int) {});
    if (!reaped.ok()) return reaped;
    return MarkBroken(s);
  }

  absl::Status WriteLocked(const std::vector<WriteOp>& ops) ABSL_EXCLUSIVE_LOCKS_REQUIRED(io_mu_) {
    std::vector<Pending> todo;
    todo.reserve(ops.size());
    for (const WriteOp& op : ops) {
      if (op.size > 0) todo.push_back({op.data, op.offset, op.size});
    }
    size_t next = 0;
    while (next < todo.size()) {
      size_t batch_end = std::min(todo.size(), next + kRingEntries);
      for (size_t i = next; i < batch_end; ++i) {
        io_uring_sqe* sqe = io_uring_get_sqe(io_.get());
        io_uring_prep_write(sqe, fd_, todo[i].data, static_cast<unsigned>(todo[i].left),
                            todo[i].offset);
        io_uring_sqe_set_data64(sqe, i);
      }
      unsigned n = static_cast<unsigned>(batch_end - next);
      if (absl::Status s = SubmitBatch(n); !s.ok()) return s;
      std::vector<size_t> retry;
      absl::Status first_error = absl::OkStatus();  // the batch is reaped in full regardless
      absl::Status reaped = ReapAll(io_.get(), n, [&](uint64_t i, int res) {
        if (res == -EINTR || res == -EAGAIN) {
          retry.push_back(i);
        } else if (res < 0) {
          first_error.Update(ErrnoToStatus(path_ + ": io_uring write", -res));
        } else if (res == 0) {
          first_error.Update(absl::InternalError(path_ + ": io_uring write wrote 0 bytes"));
        } else if (static_cast<size_t>(res) < todo[i].left) {
          todo[i].data += res;
          todo[i].offset += res;
          todo[i].left -= res;
          retry.push_back(i);
        }
      });
      if (!reaped.ok()) return reaped;
      if (!first_error.ok()) return first_error;
      // Finish short or interrupted writes with pwrite, one at a time; this is rare.
      for (size_t i : retry) {
        absl::Status s = FdWriteFull(fd_, path_, todo[i].offset, todo[i].data, todo[i].left);
        if (!s.ok()) return s;
      }
      next = batch_end;
    }
    return absl::OkStatus();
  }

  int fd_;
  std::string path_;
  const UringSubmitFn submit_;
  absl::Mutex broken_mu_;
  absl::Status broken_ ABSL_GUARDED_BY(broken_mu_);  // set when a ring fails
  absl::Mutex io_mu_;
  Ring io_ ABSL_GUARDED_BY(io_mu_);
};

class UringBackend final : public IoBackend {
 public:
  explicit UringBackend(UringSubmitFn submit) : submit_(std::move(submit)) {}
  const char* name() const override { return "uring"; }
  absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path, bool create,
                                             bool read_only) override {
    absl::StatusOr<int> fd = FdOpen(path, create, read_only);
    if (!fd.ok()) return fd.status();
    auto f = std::make_unique<UringFile>(*fd, path, submit_);
    absl::Status s = f->Init();
    if (!s.ok()) return s;
    return std::unique_ptr<File>(std::move(f));
  }
  absl::Status Remove(const std::string& path) override { return PathRemove(path); }
  absl::Status SyncDirectory(const std::string& dir) override { return DirSync(dir); }
  bool Exists(const std::string& path) override { return PathExists(path); }

 private:
  const UringSubmitFn submit_;
};

// Creates a ring, checks the opcodes we need and runs one NOP through it.
absl::Status ProbeUring() {
  io_uring ring;
  int r = io_uring_queue_init(4, &ring, 0);
  if (r < 0) return ErrnoToStatus("io_uring_queue_init", -r);
  absl::Status status = absl::OkStatus();
  io_uring_probe* probe = io_uring_get_probe_ring(&ring);
  if (probe == nullptr) {
    status = absl::FailedPreconditionError("io_uring_get_probe_ring failed");
  } else {
    for (int op : {IORING_OP_READ, IORING_OP_WRITE, IORING_OP_FSYNC, IORING_OP_NOP}) {
      if (!io_uring_opcode_supported(probe, op)) {
        status = absl::FailedPreconditionError("io_uring opcode not supported");
      }
    }
    io_uring_free_probe(probe);
  }
  if (status.ok()) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    io_uring_prep_nop(sqe);
    io_uring_cqe* cqe;
    status = SubmitQueued(&io_uring_submit_and_wait, &ring, 1, "io_uring nop");
    if (status.ok()) {
      do {
        r = io_uring_wait_cqe(&ring, &cqe);
      } while (r == -EINTR);
      if (r < 0) {
        status = ErrnoToStatus("io_uring nop", -r);
      } else {
        io_uring_cqe_seen(&ring, cqe);
      }
    }
  }
  io_uring_queue_exit(&ring);
  return status;
}

}  // namespace

absl::StatusOr<std::shared_ptr<IoBackend>> NewUringBackend(UringSubmitFn submit) {
  absl::Status s = ProbeUring();
  if (!s.ok()) return absl::FailedPreconditionError("io_uring unavailable: " + s.ToString());
  return std::shared_ptr<IoBackend>(std::make_shared<UringBackend>(std::move(submit)));
}

absl::StatusOr<std::shared_ptr<IoBackend>> NewUringBackend() {
  return NewUringBackend(&io_uring_submit_and_wait);
}

}  // namespace pgqrs::engine
