#include "engine/crypto/database_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/crypto/page_cipher.h"
#include "engine/format/varint.h"

namespace pgqrs::engine {
namespace {

absl::Status Errno(const std::string& what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// A read-only view of a checkpointed database file whose pages are decrypted on read.
class PageSource {
 public:
  static absl::StatusOr<std::unique_ptr<PageSource>> Open(const std::string& path,
                                                          const KeyRef* key) {
    struct stat wal;
    if (stat((path + "-wal").c_str(), &wal) == 0 && wal.st_size > 0) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, "-wal is not empty: checkpoint the database first"));
    }
    std::unique_ptr<PageSource> s(new PageSource());
    s->path_ = path;
    s->fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (s->fd_ < 0) return Errno("open", path);
    uint8_t h[kDbHeaderSize];
    if (pread(s->fd_, h, kDbHeaderSize, 0) != kDbHeaderSize) {
      return absl::InvalidArgumentError(path + ": shorter than a database header");
    }
    PGQRS_ASSIGN_OR_RETURN(s->header_, ParseDbHeader(h));
    absl::Status match =
        CheckKeyMatchesHeader(s->header_, key ? key->key.get() : nullptr, key ? key->key_id : 0);
    if (!match.ok()) return absl::Status(match.code(), absl::StrCat(path, ": ", match.message()));
    if (s->header_.encrypted()) {
      PGQRS_ASSIGN_OR_RETURN(s->cipher_, PageCipher::Create(key->key, s->header_));
    }
    struct stat st;
    if (fstat(s->fd_, &st) != 0) return Errno("stat", path);
    s->pages_ = static_cast<uint32_t>(st.st_size / s->header_.page_size);
    if (s->header_.page_count_valid() && s->header_.page_count != s->pages_) {
      return absl::DataLossError(absl::StrCat(path, ": header says ", s->header_.page_count,
                                              " pages, file has ", s->pages_));
    }
    return s;
  }
  ~PageSource() {
    if (fd_ >= 0) close(fd_);
  }

  const DbHeader& header() const { return header_; }
  uint32_t pages() const { return pages_; }
  bool encrypted() const { return cipher_ != nullptr; }

  // Reads and (for an encrypted file) authenticates and decrypts page `pgno`.
  absl::Status Read(uint32_t pgno, uint8_t* page) {
    const uint32_t ps = header_.page_size;
    if (pread(fd_, page, ps, off_t{pgno - 1} * ps) != static_cast<ssize_t>(ps)) {
      return Errno(absl::StrCat("read page ", pgno, " of"), path_);
    }
    if (cipher_ == nullptr) return absl::OkStatus();
    absl::Status s = cipher_->Open(pgno, page);
    if (!s.ok()) return absl::DataLossError(absl::StrCat(path_, ": ", s.message()));
    return absl::OkStatus();
  }

  // The free-list leaf pages (their trunks are read, and authenticated, on the way).
  absl::StatusOr<std::set<uint32_t>> FreeLeaves() {
    std::set<uint32_t> leaves, trunks;
    std::vector<uint8_t> page(header_.page_size);
    for (uint32_t t = header_.freelist_trunk; t != 0;) {
      if (t > pages_ || !trunks.insert(t).second) {
        return absl::DataLossError(absl::StrCat(path_, ": bad free-list trunk ", t));
      }
      PGQRS_RETURN_IF_ERROR(Read(t, page.data()));
      uint32_t n = Get32(page.data() + 4);
      if (n > header_.usable_size() / 4 - 2) {
        return absl::DataLossError(absl::StrCat(path_, ": free-list trunk ", t, " overfull"));
      }
      for (uint32_t i = 0; i < n; ++i) leaves.insert(Get32(page.data() + 8 + 4 * i));
      t = Get32(page.data());
    }
    return leaves;
  }

 private:
  PageSource() = default;
  std::string path_;
  int fd_ = -1;
  DbHeader header_;
  uint32_t pages_ = 0;
  std::unique_ptr<PageCipher> cipher_;
};

// The header of the rewritten file: encryption fields for `to`, or cleared for a plain file.
absl::StatusOr<DbHeader> OutputHeader(const DbHeader& in, const KeyRef* to) {
  DbHeader out = in;
  if (to == nullptr) {
    out.database_id = {};
    out.key_id = out.key_check = 0;
  } else if (in.encrypted()) {  // rekey: the same database under another key
    SetHeaderKey(*to->key, to->key_id, &out);
  } else if (in.reserved != kCipherReservedBytes) {
    return absl::FailedPreconditionError(absl::StrCat(
        "encrypting needs ", int{kCipherReservedBytes}, " reserved bytes per page, the file has ",
        int{in.reserved}, " (in sqlite3: .filectrl reserve_bytes 28, then VACUUM)"));
  } else {
    PGQRS_RETURN_IF_ERROR(InitEncryptionHeader(*to->key, to->key_id, &out));
  }
  return out;
}

// Writes all of `buf` at `offset`.
absl::Status WriteAll(int fd, const uint8_t* buf, size_t n, off_t offset, const std::string& path) {
  if (pwrite(fd, buf, n, offset) != static_cast<ssize_t>(n)) return Errno("write", path);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DbHeader> ReadDatabaseHeader(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("open", path);
  uint8_t h[kDbHeaderSize];
  ssize_t n = pread(fd, h, kDbHeaderSize, 0);
  close(fd);
  if (n != kDbHeaderSize) return absl::InvalidArgumentError(path + ": shorter than a header");
  return ParseDbHeader(h);
}

absl::Status RewriteDatabaseFile(const std::string& src, const std::string& dst, const KeyRef* from,
                                 const KeyRef* to) {
  PGQRS_ASSIGN_OR_RETURN(std::unique_ptr<PageSource> in, PageSource::Open(src, from));
  PGQRS_ASSIGN_OR_RETURN(DbHeader header, OutputHeader(in->header(), to));
  std::unique_ptr<PageCipher> seal;
  if (to != nullptr) {
    PGQRS_ASSIGN_OR_RETURN(seal, PageCipher::Create(to->key, header));
  }
  PGQRS_ASSIGN_OR_RETURN(std::set<uint32_t> free_leaves, in->FreeLeaves());
  int fd = open(dst.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("create", dst);
  const uint32_t ps = header.page_size;
  std::vector<uint8_t> page(ps);
  absl::Status status = absl::OkStatus();
  for (uint32_t pgno = 1; pgno <= in->pages() && status.ok(); ++pgno) {
    if (pgno == header.lock_byte_page() || free_leaves.count(pgno) > 0) {
      std::fill(page.begin(), page.end(), 0);  // no content to carry over
    } else {
      status = in->Read(pgno, page.data());
      if (!status.ok()) break;
    }
    if (pgno == 1) SerializeDbHeader(header, page.data());
    if (seal != nullptr) {
      status = seal->Seal(pgno, page.data(), page.data());
    } else if (in->encrypted()) {
      std::fill(page.begin() + header.usable_size(), page.end(), 0);  // old nonce and tag
    }
    if (status.ok()) status = WriteAll(fd, page.data(), ps, off_t{pgno - 1} * ps, dst);
  }
  if (status.ok() && fsync(fd) != 0) status = Errno("fsync", dst);
  close(fd);
  if (!status.ok()) unlink(dst.c_str());
  return status;
}

absl::StatusOr<VerifyReport> VerifyDatabaseFile(const std::string& path, const KeyRef* key) {
  PGQRS_ASSIGN_OR_RETURN(std::unique_ptr<PageSource> in, PageSource::Open(path, key));
  PGQRS_ASSIGN_OR_RETURN(std::set<uint32_t> free_leaves, in->FreeLeaves());
  VerifyReport report;
  report.header = in->header();
  std::vector<uint8_t> page(in->header().page_size);
  for (uint32_t pgno = 1; pgno <= in->pages(); ++pgno) {
    if (pgno == in->header().lock_byte_page()) continue;
    if (free_leaves.count(pgno) > 0) {
      ++report.free_leaf_pages;
      continue;
    }
    PGQRS_RETURN_IF_ERROR(in->Read(pgno, page.data()));
    ++report.pages_authenticated;
  }
  return report;
}

}  // namespace pgqrs::engine
