#include "engine/pager/pager.h"

#include <algorithm>
#include <cstring>
#include <random>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/format/btree_page.h"
#include "engine/format/varint.h"
#include "engine/pager/hot_journal.h"

namespace pgqrs::engine {
namespace {

constexpr size_t kCheckpointBatchPages = 64;
// How long an automatic checkpoint waits for readers of older snapshots before restarting an
// overgrown WAL (Pager::MaybeCheckpoint).
constexpr absl::Duration kRestartWait = absl::Milliseconds(10);

bool SameHeader(const DbHeader& a, const DbHeader& b) {
  uint8_t x[kDbHeaderSize], y[kDbHeaderSize];
  SerializeDbHeader(a, x);
  SerializeDbHeader(b, y);
  return std::memcmp(x, y, kDbHeaderSize) == 0;
}

// The directory holding `path` ("." for a bare file name).
std::string ParentDirectory(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Every pin is `at` (a condition evaluated under Pager::snap_mu_, possibly by the thread
// that releases a pin).
struct PinsAt {
  const std::multiset<std::pair<uint64_t, uint32_t>>* pins;
  std::pair<uint64_t, uint32_t> at;
};
bool AllPinsAt(PinsAt* p) {
  return p->pins->empty() || (*p->pins->begin() == p->at && *p->pins->rbegin() == p->at);
}

}  // namespace

Pager::Pager(std::shared_ptr<IoBackend> backend, std::string path, const PagerOptions& options)
    : backend_(std::move(backend)), path_(std::move(path)), options_(options) {
  if (options_.seed == 0)
    options_.seed = (uint64_t{std::random_device{}()} << 32) | std::random_device{}();
  if (options_.cache_pages < 16) options_.cache_pages = 16;
  restart_wait_frames_ = 2 * options_.wal_checkpoint_pages;
}

Pager::~Pager() {
  if (!closed_) {
    // Best effort: a destructor cannot report errors; callers should Close() explicitly.
    Close().IgnoreError();
  }
}

absl::StatusOr<std::unique_ptr<Pager>> Pager::Open(std::shared_ptr<IoBackend> backend,
                                                   const std::string& path,
                                                   const PagerOptions& options) {
  std::unique_ptr<Pager> p(new Pager(std::move(backend), path, options));
  PGQRS_RETURN_IF_ERROR(p->OpenFiles());
  return p;
}

absl::Status Pager::OpenFiles() {
  const bool ro = options_.read_only;
  // Read-only mode takes the exclusive lock too: in WAL mode sqlite3 writers (and their
  // checkpoints) need only a shared lock on the database file, so a shared lock here would
  // not keep them out. An exclusive OFD lock needs a file opened for writing; read-only mode
  // opens it so but never writes.
  absl::StatusOr<std::unique_ptr<File>> db = backend_->Open(path_, !ro, /*read_only=*/false);
  if (ro && !db.ok() && !absl::IsNotFound(db.status())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "read-only mode opens the database for writing to hold its lock: ", db.status().message()));
  }
  PGQRS_RETURN_IF_ERROR(db.status());
  db_ = std::move(*db);
  PGQRS_RETURN_IF_ERROR(db_->Lock(kPendingByte, 512, /*exclusive=*/true));
  PGQRS_ASSIGN_OR_RETURN(uint64_t size, db_->Size());
  uint8_t h[kDbHeaderSize];
  if (size >= kDbHeaderSize) {
    // Check the key before anything is written (hot journal, -shm, WAL). A header that does
    // not parse may be one a hot journal repairs: the check is repeated after rollback.
    PGQRS_RETURN_IF_ERROR(db_->ReadAt(0, h, kDbHeaderSize).status());
    if (ParseDbHeader(h).ok()) PGQRS_RETURN_IF_ERROR(SetUpEncryption(h));
  }
  PGQRS_RETURN_IF_ERROR(RollBackHotJournal(backend_.get(), db_.get(), path_ + "-journal",
                                           ParentDirectory(path_), ro));
  if (!ro) PGQRS_RETURN_IF_ERROR(backend_->Remove(path_ + "-shm"));
  PGQRS_ASSIGN_OR_RETURN(size, db_->Size());
  if (size == 0) {
    if (ro) return absl::InvalidArgumentError(path_ + ": empty database opened read-only");
    PGQRS_RETURN_IF_ERROR(backend_->Remove(path_ + "-wal"));
    header_ = DbHeader();
    if (options_.key != nullptr) {
      PGQRS_RETURN_IF_ERROR(InitEncryptionHeader(*options_.key, options_.key_id, &header_));
      PGQRS_ASSIGN_OR_RETURN(cipher_, PageCipher::Create(options_.key, header_));
    }
    PGQRS_ASSIGN_OR_RETURN(
        wal_, Wal::Open(backend_.get(), path_ + "-wal", header_.page_size, false, options_.seed,
                        cipher_.get(), options_.wal_stats, WalFramesToKeep()));
    PGQRS_RETURN_IF_ERROR(backend_->SyncDirectory(ParentDirectory(path_)));
    return InitNewDatabase();
  }
  if (size < kDbHeaderSize) return absl::DataLossError(path_ + ": file shorter than header");
  PGQRS_RETURN_IF_ERROR(db_->ReadAt(0, h, kDbHeaderSize).status());
  PGQRS_ASSIGN_OR_RETURN(header_, ParseDbHeader(h));
  PGQRS_RETURN_IF_ERROR(SetUpEncryption(h));
  PGQRS_ASSIGN_OR_RETURN(
      wal_, Wal::Open(backend_.get(), path_ + "-wal", header_.page_size, ro, options_.seed,
                      cipher_.get(), options_.wal_stats, WalFramesToKeep()));
  // The WAL may have just been created: its directory entry must be durable before a commit
  // relies on it.
  if (!ro) PGQRS_RETURN_IF_ERROR(backend_->SyncDirectory(ParentDirectory(path_)));
  return LoadHeader(size);
}

uint32_t Pager::WalFramesToKeep() const {
  // An encrypted database keeps the WAL's newest frames in memory, so that the checkpoint
  // writes them as stored without reading them back and without sealing cached pages again (a
  // seal costs far more than a copy). An automatic checkpoint starts after the commit that
  // reaches the threshold, so the WAL then holds up to threshold + that commit - 1 frames:
  // half a threshold more covers commits of up to that many pages.
  const uint32_t threshold = options_.wal_checkpoint_pages;
  return cipher_ != nullptr && !options_.read_only ? threshold + threshold / 2 : 0;
}

absl::Status Pager::SetUpEncryption(const uint8_t* raw) {
  PGQRS_ASSIGN_OR_RETURN(DbHeader header, ParseDbHeader(raw));
  absl::Status match = CheckKeyMatchesHeader(header, options_.key.get(), options_.key_id);
  if (!match.ok()) return absl::Status(match.code(), absl::StrCat(path_, ": ", match.message()));
  cipher_.reset();
  if (header.encrypted()) {
    PGQRS_ASSIGN_OR_RETURN(cipher_, PageCipher::Create(options_.key, header));
  }
  return absl::OkStatus();
}

absl::Status Pager::InitNewDatabase() {
  Begin();
  header_.page_count = 1;
  PageRef p1 = NewPage(1);
  Node root;
  root.type = PageType::kTableLeaf;
  EncodeNode(root, 1, header_.usable_size(), p1->data.get());
  committed_header_ = header_;
  PGQRS_ASSIGN_OR_RETURN(uint64_t lsn, Commit());
  PGQRS_RETURN_IF_ERROR(SyncTo(lsn));
  // sqlite3 ignores a WAL next to an empty database file: write page 1 out right away.
  return Checkpoint();
}

absl::Status Pager::LoadHeader(uint64_t file_size) {
  const uint32_t page_size = header_.page_size;
  PGQRS_ASSIGN_OR_RETURN(PageRef p1, Load(1));
  PGQRS_ASSIGN_OR_RETURN(header_, ParseDbHeader(p1->data.get()));
  if (header_.page_size != page_size) return absl::DataLossError("page 1: page size changed");
  uint64_t file_pages = file_size / page_size;
  if (wal_->db_size() > 0) {
    header_.page_count = wal_->db_size();
  } else if (!header_.page_count_valid()) {
    header_.page_count = static_cast<uint32_t>(std::min<uint64_t>(file_pages, 0xfffffffe));
  } else if (header_.page_count > file_pages) {
    return absl::DataLossError(
        absl::StrCat(path_, ": header says ", header_.page_count, " pages, file has ", file_pages));
  }
  if (header_.page_count == 0) return absl::DataLossError(path_ + ": no pages");
  if (header_.freelist_trunk > header_.page_count || header_.freelist_count >= header_.page_count) {
    return absl::DataLossError(path_ + ": bad freelist header");
  }
  committed_header_ = header_;
  Insert(p1);
  Publish();
  return absl::OkStatus();
}

absl::Status Pager::Close() {
  if (closed_) return absl::OkStatus();
  closed_ = true;
  if (in_txn_) Rollback();
  absl::Status status = absl::OkStatus();
  bool remove_wal = false;
  if (!options_.read_only && options_.checkpoint_on_close && wal_ != nullptr &&
      wal_->file() != nullptr) {
    status = Checkpoint();
    remove_wal = status.ok() && wal_empty();
  }
  wal_.reset();
  if (remove_wal) status = backend_->Remove(path_ + "-wal");
  cache_.clear();
  lru_.clear();
  db_.reset();
  return status;
}

PageRef Pager::NewPage(uint32_t pgno) {
  Drop(pgno);
  auto page = std::make_shared<Page>();
  page->pgno = pgno;
  page->data.reset(new uint8_t[header_.page_size]);
  std::memset(page->data.get(), 0, header_.page_size);
  Insert(page);
  MarkDirty(page);
  return page;
}

void Pager::Insert(const PageRef& page) {
  Entry& e = cache_[page->pgno];
  e.page = page;
  lru_.push_front(page->pgno);
  e.lru = lru_.begin();
  e.in_lru = true;
}

void Pager::Touch(Entry* e) {
  if (e->in_lru) lru_.splice(lru_.begin(), lru_, e->lru);
}

void Pager::Drop(uint32_t pgno) {
  auto it = cache_.find(pgno);
  if (it == cache_.end()) return;
  if (it->second.in_lru) lru_.erase(it->second.lru);
  if (it->second.page->dirty) {
    dirty_.erase(std::remove(dirty_.begin(), dirty_.end(), it->second.page), dirty_.end());
  }
  cache_.erase(it);
}

void Pager::EvictIfNeeded() {
  size_t budget = lru_.size();
  while (cache_.size() > options_.cache_pages && budget-- > 0 && !lru_.empty()) {
    uint32_t victim = lru_.back();
    auto it = cache_.find(victim);
    if (it->second.page.use_count() > 1) {  // pinned by a caller: keep, try the next one
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      continue;
    }
    lru_.pop_back();
    cache_.erase(it);
  }
}

absl::StatusOr<PageRef> Pager::Load(uint32_t pgno) {
  auto page = std::make_shared<Page>();
  page->pgno = pgno;
  page->data.reset(new uint8_t[header_.page_size]);
  uint64_t off;
  if (wal_ != nullptr && wal_->Lookup(pgno, &off)) {
    PGQRS_RETURN_IF_ERROR(wal_->ReadPage(off, page->data.get()));
  } else {
    PGQRS_RETURN_IF_ERROR(ReadFromDbFile(pgno, header_.page_size, page->data.get()));
  }
  PGQRS_RETURN_IF_ERROR(Decrypt(pgno, page->data.get()));
  return page;
}

absl::Status Pager::ReadFromDbFile(uint32_t pgno, uint32_t page_size, uint8_t* data) {
  PGQRS_ASSIGN_OR_RETURN(size_t got, db_->ReadAt(uint64_t{pgno - 1} * page_size, data, page_size));
  if (got != page_size) {
    return absl::DataLossError(absl::StrCat(path_, ": page ", pgno, " beyond end of file"));
  }
  return absl::OkStatus();
}

absl::Status Pager::Decrypt(uint32_t pgno, uint8_t* data) {
  if (cipher_ == nullptr) return absl::OkStatus();
  absl::Status opened = cipher_->Open(pgno, data);
  if (opened.ok()) return opened;
  return absl::Status(opened.code(), absl::StrCat(path_, ": ", opened.message()));
}

absl::StatusOr<PageRef> Pager::Get(uint32_t pgno) {
  if (pgno == 0 || pgno > header_.page_count || pgno == header_.lock_byte_page()) {
    return absl::DataLossError(absl::StrCat("invalid page number ", pgno));
  }
  auto it = cache_.find(pgno);
  if (it != cache_.end()) {
    Touch(&it->second);
    return it->second.page;
  }
  PGQRS_ASSIGN_OR_RETURN(PageRef page, Load(pgno));
  Insert(page);
  PGQRS_RETURN_IF_ERROR(KeepCacheBounded());
  return page;
}

absl::Status Pager::KeepCacheBounded() {
  EvictIfNeeded();
  if (in_txn_ && !options_.read_only && cache_.size() > options_.cache_pages) {
    return SpillDirtyPages();
  }
  return absl::OkStatus();
}

absl::Status Pager::SpillDirtyPages() {
  // Spill down to 3/4 of the bound so that spills come in batches, oldest dirty pages first
  // (a transaction tends to be done with them). Pages a caller still holds stay.
  const size_t target = options_.cache_pages - options_.cache_pages / 4;
  std::vector<PageRef> spill;
  for (const PageRef& p : dirty_) {
    if (cache_.size() - spill.size() <= target) break;
    if (p.use_count() == 2) spill.push_back(p);  // referenced by cache_ and dirty_ only
  }
  if (spill.empty()) return absl::OkStatus();
  std::vector<std::pair<uint32_t, const uint8_t*>> frames;
  frames.reserve(spill.size());
  for (const PageRef& p : spill) frames.emplace_back(p->pgno, p->data.get());
  PGQRS_RETURN_IF_ERROR(wal_->Append(frames, /*db_size=*/0).status());
  // Dirty pages are not in the LRU list. Spilled ones are read back from the WAL if needed.
  for (const PageRef& p : spill) {
    p->dirty = false;
    cache_.erase(p->pgno);
  }
  dirty_.erase(
      std::remove_if(dirty_.begin(), dirty_.end(), [](const PageRef& p) { return !p->dirty; }),
      dirty_.end());
  return absl::OkStatus();
}

void Pager::MarkDirty(const PageRef& page) {
  PGQRS_CHECK(in_txn_);
  ++epoch_;
  if (page->dirty) return;
  page->dirty = true;
  dirty_.push_back(page);
  Entry& e = cache_[page->pgno];
  if (e.in_lru) {
    lru_.erase(e.lru);
    e.in_lru = false;
  }
}

absl::StatusOr<PageRef> Pager::Allocate() {
  PGQRS_ASSIGN_OR_RETURN(uint32_t pgno, PopFreePage());
  if (pgno == 0) {
    if (header_.page_count >= 0xfffffffd) return absl::ResourceExhaustedError("database full");
    pgno = header_.page_count + 1;
    if (pgno == header_.lock_byte_page()) ++pgno;
    header_.page_count = pgno;
  }
  PageRef page = NewPage(pgno);
  PGQRS_RETURN_IF_ERROR(KeepCacheBounded());
  return page;
}

absl::Status Pager::Free(uint32_t pgno) {
  if (pgno < 2 || pgno > header_.page_count || pgno == header_.lock_byte_page()) {
    return absl::DataLossError(absl::StrCat("freeing invalid page ", pgno));
  }
  Drop(pgno);
  ++epoch_;
  return PushFreePage(pgno);
}

absl::Status Pager::PushFreePage(uint32_t pgno) {
  const uint32_t max_leaves = usable_size() / 4 - 8;
  uint32_t trunk = header_.freelist_trunk;
  if (trunk != 0) {
    PGQRS_ASSIGN_OR_RETURN(PageRef t, Get(trunk));
    uint32_t n = Get32(t->data.get() + 4);
    if (n < max_leaves) {
      MarkDirty(t);
      Put32(t->data.get() + 8 + 4 * n, pgno);
      Put32(t->data.get() + 4, n + 1);
      header_.freelist_count++;
      return absl::OkStatus();
    }
  }
  PageRef page = NewPage(pgno);
  Put32(page->data.get(), trunk);
  Put32(page->data.get() + 4, 0);
  header_.freelist_trunk = pgno;
  header_.freelist_count++;
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> Pager::PopFreePage() {
  uint32_t trunk = header_.freelist_trunk;
  if (trunk == 0) return 0;
  if (header_.freelist_count == 0) return absl::DataLossError("freelist count is zero");
  PGQRS_ASSIGN_OR_RETURN(PageRef t, Get(trunk));
  uint32_t n = Get32(t->data.get() + 4);
  if (n > usable_size() / 4 - 2) return absl::DataLossError("freelist leaf count too big");
  auto valid = [&](uint32_t p) {
    return p >= 2 && p <= header_.page_count && p != header_.lock_byte_page() && p != trunk;
  };
  if (n > 0) {
    uint32_t leaf = Get32(t->data.get() + 8 + 4 * (n - 1));
    if (!valid(leaf)) return absl::DataLossError(absl::StrCat("freelist: bad leaf ", leaf));
    MarkDirty(t);
    Put32(t->data.get() + 4, n - 1);
    header_.freelist_count--;
    return leaf;
  }
  uint32_t next = Get32(t->data.get());
  if (next != 0 && !valid(next)) return absl::DataLossError("freelist: bad trunk link");
  header_.freelist_trunk = next;
  header_.freelist_count--;
  return trunk;
}

void Pager::Begin() {
  PGQRS_CHECK(!in_txn_);
  PGQRS_CHECK(!options_.read_only || header_.page_count > 0);
  in_txn_ = true;
}

absl::StatusOr<uint64_t> Pager::Commit() {
  PGQRS_CHECK(in_txn_);
  bool header_changed = !SameHeader(header_, committed_header_);
  bool page1_dirty = false;
  for (const PageRef& p : dirty_) page1_dirty |= p->pgno == 1;
  if (dirty_.empty() && !header_changed && !wal_->has_uncommitted()) {
    in_txn_ = false;
    return 0;
  }
  if (options_.read_only) {
    Rollback();
    return absl::FailedPreconditionError(path_ + ": database is read-only");
  }
  if (dirty_.empty()) {
    // Everything was spilled: rewrite page 1 to carry the commit frame.
    absl::StatusOr<PageRef> p1 = Get(1);
    if (!p1.ok()) {
      Rollback();
      return p1.status();
    }
    MarkDirty(*p1);
    page1_dirty = true;
  }
  if (header_changed || page1_dirty) {
    header_.change_counter++;
    header_.version_valid_for = header_.change_counter;
    header_.write_version = header_.read_version = 2;
    absl::StatusOr<PageRef> p1 = Get(1);
    if (!p1.ok()) {
      Rollback();
      return p1.status();
    }
    MarkDirty(*p1);
    SerializeDbHeader(header_, (*p1)->data.get());
  }
  std::sort(dirty_.begin(), dirty_.end(),
            [](const PageRef& a, const PageRef& b) { return a->pgno < b->pgno; });
  std::vector<std::pair<uint32_t, const uint8_t*>> frames;
  frames.reserve(dirty_.size());
  for (const PageRef& p : dirty_) frames.emplace_back(p->pgno, p->data.get());
  absl::StatusOr<uint64_t> lsn = wal_->Append(frames, header_.page_count);
  if (!lsn.ok()) {
    Rollback();
    return lsn.status();
  }
  for (const PageRef& p : dirty_) {
    p->dirty = false;
    Entry& e = cache_[p->pgno];
    lru_.push_front(p->pgno);
    e.lru = lru_.begin();
    e.in_lru = true;
  }
  dirty_.clear();
  committed_header_ = header_;
  in_txn_ = false;
  Publish();
  EvictIfNeeded();
  return *lsn;
}

void Pager::Rollback() {
  for (const PageRef& p : dirty_) {
    auto it = cache_.find(p->pgno);
    if (it != cache_.end()) {
      if (it->second.in_lru) lru_.erase(it->second.lru);
      cache_.erase(it);
    }
  }
  dirty_.clear();
  // Cached copies read back from spilled frames hold this transaction's changes too.
  if (wal_ != nullptr) {
    for (uint32_t pgno : wal_->DiscardUncommitted()) Drop(pgno);
  }
  header_ = committed_header_;
  in_txn_ = false;
  ++epoch_;
}

uint64_t Pager::committed_lsn() const { return wal_ == nullptr ? 0 : wal_->appended_lsn(); }

absl::Status Pager::SyncTo(uint64_t lsn) {
  if (lsn == 0) return absl::OkStatus();
  return wal_->SyncTo(lsn);
}

absl::Status Pager::MaybeCheckpoint() {
  const uint32_t threshold = options_.wal_checkpoint_pages;
  if (options_.read_only || wal_ == nullptr || wal_->frame_count() < threshold) {
    return absl::OkStatus();
  }
  const uint32_t frames = wal_->frame_count();
  if (frames >= restart_wait_frames_) {
    // Readers overlapping back to back can keep the WAL from ever restarting. Once it has
    // outgrown the threshold, wait a little for the snapshots of older commits to end (new
    // ones pin the newest commit: the WAL is synced first and no commit can happen
    // meanwhile), then copy all of it and restart. If that was not enough (a long reader),
    // try again once another threshold of frames has been written.
    PGQRS_RETURN_IF_ERROR(wal_->SyncAll());
    WaitForPinsAtNewest(kRestartWait);
    PGQRS_RETURN_IF_ERROR(Checkpoint());
    if (!wal_empty()) restart_wait_frames_ = frames + threshold;
    return absl::OkStatus();
  }
  // Pinned snapshots may have held the last checkpoint back. Copy again only once a quarter of
  // the threshold is new, so that a steady read load does not turn every Begin into a
  // database fsync; retrying the restart alone costs no I/O.
  if (frames - backfilled_ >= std::max<uint32_t>(1, threshold / 4)) return Checkpoint();
  if (backfilled_ == frames) RestartWalIfUnused();
  return absl::OkStatus();
}

absl::Status Pager::Checkpoint() {
  PGQRS_CHECK(!in_txn_);
  if (options_.read_only || wal_ == nullptr || wal_->file() == nullptr) return absl::OkStatus();
  PGQRS_RETURN_IF_ERROR(wal_->SyncAll());
  const uint32_t frames = wal_->frame_count();
  if (frames == 0) return absl::OkStatus();
  std::optional<uint32_t> bound = BackfillBound();
  if (!bound) return absl::OkStatus();
  if (*bound > backfilled_) {
    PGQRS_RETURN_IF_ERROR(Backfill(backfilled_, *bound));
    backfilled_ = *bound;
  }
  if (backfilled_ == frames) RestartWalIfUnused();
  return absl::OkStatus();
}

std::optional<uint32_t> Pager::BackfillBound() {
  absl::MutexLock l(&snap_mu_);
  const uint64_t generation = wal_->generation();
  uint32_t bound = wal_->frame_count();
  for (const auto& [pin_generation, max_frame] : pins_) {
    if (pin_generation != generation) return std::nullopt;
    bound = std::min(bound, max_frame);
  }
  return bound;
}

absl::Status Pager::Backfill(uint32_t from, uint32_t to) {
  const bool complete = to == wal_->frame_count();
  std::vector<std::pair<uint32_t, uint64_t>> pages = wal_->PagesToBackfill(from, to);
  const uint32_t ps = header_.page_size;
  std::vector<uint8_t> buf(kCheckpointBatchPages * ps);
  for (size_t i = 0; i < pages.size(); i += kCheckpointBatchPages) {
    std::vector<WriteOp> ops;
    for (size_t j = i; j < pages.size() && j < i + kCheckpointBatchPages; ++j) {
      const auto [pgno, offset] = pages[j];
      uint8_t* dst = buf.data() + (j - i) * ps;
      const uint8_t* image = dst;
      // Every page goes to the database file as its WAL frame holds it (for an encrypted
      // database still sealed: the AAD binds the page number, not the frame), taken from the
      // frames the WAL keeps in memory if it can. Otherwise a plain database takes the page
      // from the cache in a complete backfill (where the cache holds the newest committed copy
      // of every cached page); anything else is read back from the WAL.
      if (const uint8_t* kept = wal_->KeptPage(offset)) {
        image = kept;
      } else if (auto it = complete && cipher_ == nullptr ? cache_.find(pgno) : cache_.end();
                 it != cache_.end()) {
        image = it->second.page->data.get();
      } else {
        PGQRS_RETURN_IF_ERROR(wal_->ReadPage(offset, dst));
      }
      ops.push_back(WriteOp{uint64_t{pgno - 1} * ps, image, ps});
    }
    PGQRS_RETURN_IF_ERROR(db_->Write(ops));
  }
  if (complete) {
    // Match the file to the page count: shrink after frees at the end, and grow when the last
    // pages are free-list leaves that were never written (sqlite3 rejects a file shorter than
    // its header's page count). Only a complete backfill may: every pinned snapshot is the
    // newest commit then, so none reads a page beyond the new end.
    PGQRS_ASSIGN_OR_RETURN(uint64_t size, db_->Size());
    if (size != uint64_t{header_.page_count} * ps) {
      PGQRS_RETURN_IF_ERROR(db_->Truncate(uint64_t{header_.page_count} * ps));
    }
  }
  return db_->Sync();
}

void Pager::WaitForPinsAtNewest(absl::Duration timeout) {
  absl::MutexLock l(&snap_mu_);
  PinsAt newest{&pins_, {wal_->generation(), wal_->frame_count()}};
  snap_mu_.AwaitWithTimeout(absl::Condition(&AllPinsAt, &newest), timeout);
}

void Pager::RestartWalIfUnused() {
  absl::MutexLock l(&snap_mu_);
  PinsAt newest{&pins_, {wal_->generation(), wal_->frame_count()}};
  if (!AllPinsAt(&newest)) return;
  // Pinned snapshots of the newest commit read the database file from now on: it holds
  // exactly their state, and no backfill runs while they are pinned (BackfillBound).
  wal_->Reset();
  backfilled_ = 0;
  restart_wait_frames_ = 2 * options_.wal_checkpoint_pages;
  // The checkpoint synced the WAL: every commit is durable.
  if (!not_durable_.empty()) published_ = not_durable_.back();
  not_durable_.clear();
  published_.generation = wal_->generation();
  published_.max_frame = 0;
}

void Pager::Publish() {
  Snapshot s;
  s.generation = wal_->generation();
  s.max_frame = wal_->frame_count();
  s.header = committed_header_;
  s.lsn = committed_lsn();
  absl::MutexLock l(&snap_mu_);
  AdvanceDurableLocked();  // keeps the queue short when no reader comes
  not_durable_.push_back(s);
}

void Pager::AdvanceDurableLocked() {
  const uint64_t synced = not_durable_.empty() ? 0 : wal_->synced_lsn();
  while (!not_durable_.empty() && not_durable_.front().lsn <= synced) {
    published_ = not_durable_.front();
    not_durable_.pop_front();
  }
}

Snapshot Pager::AcquireSnapshot() {
  absl::MutexLock l(&snap_mu_);
  AdvanceDurableLocked();
  pins_.emplace(published_.generation, published_.max_frame);
  return published_;
}

uint64_t Pager::durable_lsn() {
  absl::MutexLock l(&snap_mu_);
  AdvanceDurableLocked();
  return published_.lsn;
}

void Pager::ReleaseSnapshot(const Snapshot& snapshot) {
  absl::MutexLock l(&snap_mu_);
  auto it = pins_.find({snapshot.generation, snapshot.max_frame});
  PGQRS_CHECK(it != pins_.end());
  pins_.erase(it);
}

absl::StatusOr<PageRef> Pager::ReadSnapshotPage(const Snapshot& snapshot, uint32_t pgno) {
  const DbHeader& h = snapshot.header;
  if (pgno == 0 || pgno > h.page_count || pgno == h.lock_byte_page()) {
    return absl::DataLossError(absl::StrCat("invalid page number ", pgno));
  }
  auto page = std::make_shared<Page>();
  page->pgno = pgno;
  page->data.reset(new uint8_t[h.page_size]);
  PGQRS_ASSIGN_OR_RETURN(
      bool in_wal,
      wal_->ReadSnapshotFrame(snapshot.generation, snapshot.max_frame, pgno, page->data.get()));
  if (!in_wal) PGQRS_RETURN_IF_ERROR(ReadFromDbFile(pgno, h.page_size, page->data.get()));
  PGQRS_RETURN_IF_ERROR(Decrypt(pgno, page->data.get()));
  return page;
}

}  // namespace pgqrs::engine
