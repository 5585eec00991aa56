#include "engine/wal/wal.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/format/varint.h"

namespace pgqrs::engine {
namespace {

// The 32-bit word at `p` in the byte order `kBigEndian` names.
template <bool kBigEndian>
uint32_t LoadWord(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return kBigEndian == (std::endian::native == std::endian::big) ? v : __builtin_bswap32(v);
}

// The loop is instantiated per byte order so that each word is a plain load (and at most a
// byte swap): this checksum runs over every page of every commit.
template <bool kBigEndian>
void Checksum(const uint8_t* p, size_t n, uint32_t* s0, uint32_t* s1) {
  uint32_t a = *s0, b = *s1;
  for (size_t i = 0; i + 8 <= n; i += 8) {
    a += LoadWord<kBigEndian>(p + i) + b;
    b += LoadWord<kBigEndian>(p + i + 4) + a;
  }
  *s0 = a;
  *s1 = b;
}

uint64_t SplitMix(uint64_t* s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

void WalChecksum(bool big_endian, const uint8_t* p, size_t n, uint32_t* s0, uint32_t* s1) {
  if (big_endian) {
    Checksum<true>(p, n, s0, s1);
  } else {
    Checksum<false>(p, n, s0, s1);
  }
}

// Seconds from 100 us to 1 s; commits from 1 to 256 (the store's batch is at most 128).
WalStats::WalStats()
    : sync_seconds(
          {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}),
      commits_per_sync({1, 2, 4, 8, 16, 32, 64, 128, 256}) {}

absl::StatusOr<std::unique_ptr<Wal>> Wal::Open(IoBackend* backend, const std::string& path,
                                               uint32_t page_size, bool read_only, uint64_t seed,
                                               PageCipher* cipher, WalStats* stats,
                                               uint32_t keep_frames) {
  std::unique_ptr<Wal> wal(new Wal());
  wal->cipher_ = cipher;
  wal->stats_ = stats;
  wal->ring_frames_ = keep_frames;
  wal->page_size_ = page_size;
  wal->read_only_ = read_only;
  wal->rand_state_ = seed;
  absl::StatusOr<std::unique_ptr<File>> f = backend->Open(path, !read_only, read_only);
  if (!f.ok()) {
    if (read_only && absl::IsNotFound(f.status())) return wal;  // no WAL: nothing to recover
    return f.status();
  }
  wal->file_ = std::move(*f);
  PGQRS_RETURN_IF_ERROR(wal->Recover());
  return wal;
}

Wal::~Wal() = default;

absl::Status Wal::Recover() {
  PGQRS_ASSIGN_OR_RETURN(uint64_t size, file_->Size());
  uint8_t h[kWalHeaderSize];
  if (size < kWalHeaderSize) return absl::OkStatus();
  PGQRS_RETURN_IF_ERROR(file_->ReadAt(0, h, kWalHeaderSize).status());
  uint32_t magic = Get32(h);
  if (magic != kWalMagicLe && magic != kWalMagicBe) return absl::OkStatus();
  big_endian_ = magic == kWalMagicBe;
  uint32_t s0 = 0, s1 = 0;
  WalChecksum(big_endian_, h, 24, &s0, &s1);
  if (Get32(h + 4) != kWalVersion || Get32(h + 8) != page_size_ || s0 != Get32(h + 24) ||
      s1 != Get32(h + 28)) {
    return absl::OkStatus();  // invalid header: the log is empty
  }
  ckpt_seq_ = Get32(h + 12);
  salt1_ = Get32(h + 16);
  salt2_ = Get32(h + 20);
  header_written_ = true;
  cksum0_ = s0;
  cksum1_ = s1;
  const uint64_t frame_size = kWalFrameHeaderSize + page_size_;
  std::vector<uint8_t> frame(frame_size);
  std::unordered_map<uint32_t, uint32_t> pending;
  uint32_t n = 0;
  for (uint64_t off = kWalHeaderSize; off + frame_size <= size; off += frame_size, ++n) {
    PGQRS_RETURN_IF_ERROR(file_->ReadAt(off, frame.data(), frame_size).status());
    const uint8_t* fh = frame.data();
    if (Get32(fh + 8) != salt1_ || Get32(fh + 12) != salt2_) break;
    uint32_t pgno = Get32(fh);
    if (pgno == 0) break;
    WalChecksum(big_endian_, fh, 8, &s0, &s1);
    WalChecksum(big_endian_, fh + kWalFrameHeaderSize, page_size_, &s0, &s1);
    if (s0 != Get32(fh + 16) || s1 != Get32(fh + 20)) break;
    pending[pgno] = n;
    uint32_t commit_size = Get32(fh + 4);
    if (commit_size != 0) {
      AddCommit(pending, n + 1, commit_size);
      pending.clear();
      frames_ = n + 1;
      db_size_ = commit_size;
      cksum0_ = s0;
      cksum1_ = s1;
    }
  }
  {
    // Drop pages beyond the committed size (a shrinking commit leaves stale frames).
    absl::MutexLock l(&index_mu_);
    for (auto it = history_.begin(); it != history_.end();) {
      it = it->first > db_size_ ? history_.erase(it) : std::next(it);
    }
  }
  tail0_ = cksum0_;
  tail1_ = cksum1_;
  return absl::OkStatus();
}

uint64_t Wal::FrameOffset(uint32_t frame) const {
  return kWalHeaderSize + uint64_t{frame} * (kWalFrameHeaderSize + page_size_) +
         kWalFrameHeaderSize;
}

void Wal::AddCommit(const std::unordered_map<uint32_t, uint32_t>& newest, uint32_t frames,
                    uint32_t db_size) {
  absl::MutexLock l(&index_mu_);
  for (const auto& [pgno, frame] : newest) history_[pgno].push_back(frame);
  commits_.emplace_back(frames, db_size);
}

bool Wal::Lookup(uint32_t pgno, uint64_t* offset) const {
  auto it = uncommitted_index_.find(pgno);
  if (it != uncommitted_index_.end()) {
    *offset = FrameOffset(it->second);
    return true;
  }
  absl::ReaderMutexLock l(&index_mu_);
  auto h = history_.find(pgno);
  if (h == history_.end()) return false;
  *offset = FrameOffset(h->second.back());
  return true;
}

uint64_t Wal::generation() const {
  absl::ReaderMutexLock l(&index_mu_);
  return generation_;
}

absl::StatusOr<bool> Wal::ReadSnapshotFrame(uint64_t generation, uint32_t max_frame, uint32_t pgno,
                                            uint8_t* dst) {
  absl::ReaderMutexLock l(&index_mu_);
  if (generation != generation_) return false;
  auto h = history_.find(pgno);
  if (h == history_.end()) return false;
  const std::vector<uint32_t>& frames = h->second;
  auto past = std::lower_bound(frames.begin(), frames.end(), max_frame);
  if (past == frames.begin()) return false;
  PGQRS_RETURN_IF_ERROR(ReadPage(FrameOffset(*std::prev(past)), dst));
  return true;
}

absl::Status Wal::ReadPage(uint64_t offset, uint8_t* dst) {
  PGQRS_ASSIGN_OR_RETURN(size_t got, file_->ReadAt(offset, dst, page_size_));
  if (got != page_size_) return absl::DataLossError("wal: frame truncated");
  return absl::OkStatus();
}

void Wal::WriteHeader(uint8_t* h) {
  Put32(h, kWalMagicLe);
  Put32(h + 4, kWalVersion);
  Put32(h + 8, page_size_);
  Put32(h + 12, ckpt_seq_);
  Put32(h + 16, salt1_);
  Put32(h + 20, salt2_);
  uint32_t s0 = 0, s1 = 0;
  WalChecksum(false, h, 24, &s0, &s1);
  Put32(h + 24, s0);
  Put32(h + 28, s1);
  big_endian_ = false;
  cksum0_ = tail0_ = s0;
  cksum1_ = tail1_ = s1;
}

std::vector<uint8_t*> Wal::FrameBuffers(uint32_t first_frame, size_t n) {
  const uint64_t frame_size = kWalFrameHeaderSize + page_size_;
  std::vector<uint8_t*> frames(n);
  if (n > ring_frames_) {  // too many to keep: a scratch buffer, and nothing is kept
    buf_.resize(n * frame_size);
    for (size_t i = 0; i < n; ++i) frames[i] = buf_.data() + i * frame_size;
    kept_begin_ = kept_end_ = first_frame + static_cast<uint32_t>(n);
    return frames;
  }
  if (ring_ == nullptr) ring_.reset(new uint8_t[ring_frames_ * frame_size]);
  const uint32_t end = first_frame + static_cast<uint32_t>(n);
  kept_begin_ = std::max(kept_begin_, end > ring_frames_ ? end - ring_frames_ : 0);
  kept_end_ = first_frame;  // the new frames count once written
  for (size_t i = 0; i < n; ++i)
    frames[i] = ring_.get() + (first_frame + i) % ring_frames_ * frame_size;
  return frames;
}

const uint8_t* Wal::KeptPage(uint64_t offset) const {
  const uint64_t frame_size = kWalFrameHeaderSize + page_size_;
  if (offset < kWalHeaderSize + kWalFrameHeaderSize) return nullptr;
  const uint64_t rel = offset - kWalHeaderSize - kWalFrameHeaderSize;
  const uint64_t frame = rel / frame_size;
  if (rel % frame_size != 0 || frame < kept_begin_ || frame >= kept_end_) return nullptr;
  return ring_.get() + frame % ring_frames_ * frame_size + kWalFrameHeaderSize;
}

absl::StatusOr<uint64_t> Wal::Append(const std::vector<std::pair<uint32_t, const uint8_t*>>& pages,
                                     uint32_t db_size) {
  if (read_only_ || file_ == nullptr) return absl::FailedPreconditionError("wal: read-only");
  PGQRS_CHECK(!pages.empty());
  const uint64_t frame_size = kWalFrameHeaderSize + page_size_;
  const uint32_t first_frame = frames_ + uncommitted_frames_;
  if (!header_written_) {
    // A restarted log must have a durable header before any new frame can overwrite the old
    // generation's frames, otherwise recovery could replay a stale prefix of old commits.
    if (salt1_ == 0 && salt2_ == 0) salt1_ = static_cast<uint32_t>(SplitMix(&rand_state_));
    salt2_ = static_cast<uint32_t>(SplitMix(&rand_state_));
    uint8_t header[kWalHeaderSize];
    WriteHeader(header);
    PGQRS_RETURN_IF_ERROR(file_->WriteAndSync({WriteOp{0, header, kWalHeaderSize}}));
    sync_calls_.fetch_add(1);
    header_written_ = true;
  }
  std::vector<uint8_t*> frames = FrameBuffers(first_frame, pages.size());
  uint32_t s0 = tail0_, s1 = tail1_;
  std::vector<WriteOp> ops;
  for (size_t i = 0; i < pages.size(); ++i) {
    uint8_t* p = frames[i];
    Put32(p, pages[i].first);
    Put32(p + 4, i + 1 == pages.size() ? db_size : 0);
    Put32(p + 8, salt1_);
    Put32(p + 12, salt2_);
    if (cipher_ != nullptr) {
      PGQRS_RETURN_IF_ERROR(
          cipher_->Seal(pages[i].first, pages[i].second, p + kWalFrameHeaderSize));
    } else {
      std::memcpy(p + kWalFrameHeaderSize, pages[i].second, page_size_);
    }
    WalChecksum(big_endian_, p, 8, &s0, &s1);
    WalChecksum(big_endian_, p + kWalFrameHeaderSize, page_size_, &s0, &s1);
    Put32(p + 16, s0);
    Put32(p + 20, s1);
    // Frames adjacent in memory (all but a ring's wrap-around) go out as one write.
    if (!ops.empty() && ops.back().data + ops.back().size == p) {
      ops.back().size += frame_size;
    } else {
      ops.push_back(WriteOp{kWalHeaderSize + (first_frame + i) * frame_size, p, frame_size});
    }
  }
  PGQRS_RETURN_IF_ERROR(file_->Write(ops));
  if (pages.size() <= ring_frames_) kept_end_ = first_frame + static_cast<uint32_t>(pages.size());
  tail0_ = s0;
  tail1_ = s1;
  for (size_t i = 0; i < pages.size(); ++i) uncommitted_index_[pages[i].first] = first_frame + i;
  uncommitted_frames_ += static_cast<uint32_t>(pages.size());
  if (db_size != 0) {
    AddCommit(uncommitted_index_, frames_ + uncommitted_frames_, db_size);
    uncommitted_index_.clear();
    frames_ += uncommitted_frames_;
    uncommitted_frames_ = 0;
    cksum0_ = s0;
    cksum1_ = s1;
    db_size_ = db_size;
    commits_appended_.fetch_add(1);  // before the lsn: a sync that covers it counts it
  }
  return appended_lsn_.fetch_add(pages.size()) + pages.size();
}

std::vector<uint32_t> Wal::DiscardUncommitted() {
  // The next Append overwrites these frames.
  kept_end_ = std::min(kept_end_, frames_);
  kept_begin_ = std::min(kept_begin_, kept_end_);
  std::vector<uint32_t> pgnos;
  pgnos.reserve(uncommitted_index_.size());
  for (const auto& [pgno, frame] : uncommitted_index_) pgnos.push_back(pgno);
  uncommitted_index_.clear();
  uncommitted_frames_ = 0;
  tail0_ = cksum0_;
  tail1_ = cksum1_;
  return pgnos;
}

absl::Status Wal::SyncTo(uint64_t lsn) {
  absl::MutexLock l(&sync_mu_);
  while (synced_lsn_ < lsn) {
    if (!sync_error_.ok()) return sync_error_;
    if (syncing_) {
      sync_cv_.Wait(&sync_mu_);
      continue;
    }
    syncing_ = true;
    uint64_t target = appended_lsn_.load();
    uint64_t commits = commits_appended_.load();
    sync_mu_.Unlock();
    sync_calls_.fetch_add(1);
    auto start = std::chrono::steady_clock::now();
    absl::Status s = file_->Sync();
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    sync_mu_.Lock();
    syncing_ = false;
    if (!s.ok()) {
      sync_error_ = absl::DataLossError(absl::StrCat("wal sync failed: ", s.ToString()));
    } else {
      synced_lsn_ = std::max(synced_lsn_, target);
      RecordSync(commits, took.count());
    }
    sync_cv_.SignalAll();
  }
  if (!sync_error_.ok()) return sync_error_;
  return absl::OkStatus();
}

void Wal::RecordSync(uint64_t commits_appended, double took) {
  // Commits read a moment after the lsn may include one this sync did not cover; it is then
  // counted here instead of in the next sync, so the totals stay right.
  if (stats_ == nullptr || commits_appended <= commits_synced_) return;
  stats_->sync_seconds.Record(took);
  stats_->commits_per_sync.Record(static_cast<double>(commits_appended - commits_synced_));
  commits_synced_ = commits_appended;
}

uint64_t Wal::synced_lsn() {
  absl::MutexLock l(&sync_mu_);
  return synced_lsn_;
}

std::vector<std::pair<uint32_t, uint64_t>> Wal::PagesToBackfill(uint32_t from, uint32_t to) const {
  const uint32_t db_size = DbSizeAt(to);
  std::vector<std::pair<uint32_t, uint64_t>> out;
  absl::ReaderMutexLock l(&index_mu_);
  for (const auto& [pgno, frames] : history_) {
    if (pgno > db_size) continue;
    auto past = std::lower_bound(frames.begin(), frames.end(), to);
    if (past == frames.begin()) continue;
    uint32_t newest = *std::prev(past);
    if (newest >= from) out.emplace_back(pgno, FrameOffset(newest));
  }
  std::sort(out.begin(), out.end());
  return out;
}

uint32_t Wal::DbSizeAt(uint32_t frames) const {
  absl::ReaderMutexLock l(&index_mu_);
  auto it = std::lower_bound(commits_.begin(), commits_.end(), std::make_pair(frames, 0u));
  PGQRS_CHECK(it != commits_.end() && it->first == frames);
  return it->second;
}

void Wal::Reset() {
  PGQRS_CHECK(uncommitted_frames_ == 0);
  kept_begin_ = kept_end_ = 0;
  {
    absl::MutexLock l(&index_mu_);
    history_.clear();
    commits_.clear();
    ++generation_;
  }
  frames_ = 0;
  db_size_ = 0;
  ckpt_seq_ += 1;
  salt1_ += 1;
  header_written_ = false;
}

}  // namespace pgqrs::engine
