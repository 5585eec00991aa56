#include "engine/io/sim_backend.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "engine/base/errno_status.h"

namespace pgqrs::engine {

constexpr size_t kSectorSize = 512;

class SimFile final : public File {
 public:
  SimFile(std::shared_ptr<SimBackend> be, std::string path, uint64_t epoch, int handle,
          bool read_only)
      : be_(std::move(be)),
        path_(std::move(path)),
        epoch_(epoch),
        handle_(handle),
        read_only_(read_only) {}

  ~SimFile() override {
    absl::MutexLock l(&be_->mu_);
    if (be_->epoch_ != epoch_) return;
    auto it = be_->files_.find(path_);
    if (it == be_->files_.end()) return;
    if (locked_ && it->second.lock_exclusive && it->second.lock_owner == handle_) {
      it->second.lock_owner = 0;
      it->second.lock_exclusive = false;
    } else if (locked_ && !it->second.lock_exclusive && it->second.shared_holders > 0) {
      --it->second.shared_holders;
    }
  }

  absl::StatusOr<size_t> ReadAt(uint64_t offset, uint8_t* dst, size_t n) override {
    absl::MutexLock l(&be_->mu_);
    SimBackend::FileState* f = nullptr;
    absl::Status s = Live(&f);
    if (!s.ok()) return s;
    size_t avail = offset >= f->data.size() ? 0 : std::min<size_t>(n, f->data.size() - offset);
    if (avail > 0) std::memcpy(dst, f->data.data() + offset, avail);
    if (avail < n) std::memset(dst + avail, 0, n - avail);
    return avail;
  }

  absl::Status Write(const std::vector<WriteOp>& ops) override {
    absl::MutexLock l(&be_->mu_);
    SimBackend::FileState* f = nullptr;
    absl::Status s = Live(&f);
    if (!s.ok()) return s;
    if (read_only_) return absl::PermissionDeniedError(path_ + ": read-only");
    for (const WriteOp& op : ops) {
      s = be_->CheckFault(SimBackend::Op::kWrite);
      if (!s.ok()) return s;
      ++be_->writes_;
      if (f->data.size() < op.offset + op.size) f->data.resize(op.offset + op.size, '\0');
      std::memcpy(f->data.data() + op.offset, op.data, op.size);
      f->pending.push_back(
          {op.offset, std::string(reinterpret_cast<const char*>(op.data), op.size)});
    }
    return absl::OkStatus();
  }

  absl::Status WriteAndSync(const std::vector<WriteOp>& ops) override {
    absl::Status s = Write(ops);
    if (!s.ok()) return s;
    return Sync();
  }

  absl::Status Sync() override {
    absl::MutexLock l(&be_->mu_);
    SimBackend::FileState* f = nullptr;
    absl::Status s = Live(&f);
    if (!s.ok()) return s;
    s = be_->CheckFault(SimBackend::Op::kSync);
    if (!s.ok()) return s;
    ++be_->syncs_;
    f->durable = f->data;
    f->pending.clear();
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> Size() override {
    absl::MutexLock l(&be_->mu_);
    SimBackend::FileState* f = nullptr;
    absl::Status s = Live(&f);
    if (!s.ok()) return s;
    return f->data.size();
  }

  absl::Status Truncate(uint64_t size) override {
    absl::MutexLock l(&be_->mu_);
    SimBackend::FileState* f = nullptr;
    absl::Status s = Live(&f);
    if (!s.ok()) return s;
    f->data.resize(size, '\0');
    if (f->durable.size() > size) f->durable.resize(size);
    return absl::OkStatus();
  }

  absl::Status Lock(uint64_t, uint64_t, bool exclusive) override {
    absl::MutexLock l(&be_->mu_);
    SimBackend::FileState* f = nullptr;
    absl::Status s = Live(&f);
    if (!s.ok()) return s;
    if (f->lock_owner != 0 || (exclusive && f->shared_holders > 0)) {
      return absl::UnavailableError(path_ + ": database is locked");
    }
    if (exclusive) {
      f->lock_owner = handle_;
      f->lock_exclusive = true;
    } else {
      ++f->shared_holders;
    }
    locked_ = true;
    return absl::OkStatus();
  }

 private:
  absl::Status Live(SimBackend::FileState** f) ABSL_EXCLUSIVE_LOCKS_REQUIRED(be_->mu_) {
    if (be_->epoch_ != epoch_) return absl::UnavailableError(path_ + ": simulated crash");
    auto it = be_->files_.find(path_);
    if (it == be_->files_.end()) return absl::NotFoundError(path_ + ": removed");
    *f = &it->second;
    return absl::OkStatus();
  }

  std::shared_ptr<SimBackend> be_;
  std::string path_;
  uint64_t epoch_;
  int handle_;
  bool read_only_;
  bool locked_ = false;
};

SimBackend::SimBackend(uint64_t seed) : rng_(seed) {}

absl::StatusOr<std::unique_ptr<File>> SimBackend::Open(const std::string& path, bool create,
                                                       bool read_only) {
  absl::MutexLock l(&mu_);
  if (files_.find(path) == files_.end()) {
    if (!create || read_only) return ErrnoToStatus(path + ": open", ENOENT);
    files_[path] = FileState();
  }
  return std::unique_ptr<File>(
      new SimFile(shared_from_this(), path, epoch_, next_handle_++, read_only));
}

absl::Status SimBackend::Remove(const std::string& path) {
  absl::MutexLock l(&mu_);
  files_.erase(path);
  return absl::OkStatus();
}

absl::Status SimBackend::SyncDirectory(const std::string& dir) {
  absl::MutexLock l(&mu_);
  ++dir_syncs_;
  for (auto& [path, f] : files_) {
    size_t slash = path.rfind('/');
    std::string parent = slash == std::string::npos ? "."
                         : slash == 0               ? "/"
                                                    : path.substr(0, slash);
    if (parent == dir) f.entry_durable = true;
  }
  return absl::OkStatus();
}

bool SimBackend::Exists(const std::string& path) {
  absl::MutexLock l(&mu_);
  return files_.count(path) > 0;
}

absl::Status SimBackend::CheckFault(Op op) {
  auto& pending = faults_[op];
  if (pending.empty()) return absl::OkStatus();
  std::map<int64_t, int> next;
  int err = 0;
  for (auto& [n, e] : pending) {
    if (n == 1) {
      err = e;
    } else {
      next[n - 1] = e;
    }
  }
  pending = std::move(next);
  if (err != 0) return ErrnoToStatus(op == Op::kWrite ? "sim: write" : "sim: sync", err);
  return absl::OkStatus();
}

void SimBackend::InjectFault(Op op, int n, int err) {
  absl::MutexLock l(&mu_);
  faults_[op][n] = err;
}

void SimBackend::ResolvePending(FileState* f) {
  std::string img = f->durable;
  std::vector<PendingWrite> ws = std::move(f->pending);
  std::shuffle(ws.begin(), ws.end(), rng_);
  for (const PendingWrite& w : ws) {
    int fate = static_cast<int>(rng_() % 3);  // 0 drop, 1 apply, 2 tear
    if (fate == 0) continue;
    size_t len = w.data.size();
    if (fate == 2 && len > kSectorSize) {
      size_t sectors = (len + kSectorSize - 1) / kSectorSize;
      len = std::min(len, (rng_() % sectors) * kSectorSize);
    }
    if (len == 0) continue;
    if (img.size() < w.offset + len) img.resize(w.offset + len, '\0');
    std::memcpy(img.data() + w.offset, w.data.data(), len);
  }
  f->data = img;
  f->durable = std::move(img);
  f->pending.clear();
}

void SimBackend::Crash() {
  absl::MutexLock l(&mu_);
  for (auto it = files_.begin(); it != files_.end();) {
    if (!it->second.entry_durable) {
      it = files_.erase(it);
      continue;
    }
    FileState& f = it->second;
    ResolvePending(&f);
    f.lock_owner = 0;
    f.lock_exclusive = false;
    f.shared_holders = 0;
    ++it;
  }
  faults_.clear();
  ++epoch_;
}

int64_t SimBackend::write_count() const {
  absl::MutexLock l(&mu_);
  return writes_;
}

int64_t SimBackend::sync_count() const {
  absl::MutexLock l(&mu_);
  return syncs_;
}

int64_t SimBackend::dir_sync_count() const {
  absl::MutexLock l(&mu_);
  return dir_syncs_;
}

std::string SimBackend::Contents(const std::string& path) const {
  absl::MutexLock l(&mu_);
  auto it = files_.find(path);
  return it == files_.end() ? std::string() : it->second.data;
}

void SimBackend::SetContents(const std::string& path, std::string data) {
  absl::MutexLock l(&mu_);
  FileState& f = files_[path];
  f.entry_durable = true;
  f.data = data;
  f.durable = std::move(data);
  f.pending.clear();
}

}  // namespace pgqrs::engine
