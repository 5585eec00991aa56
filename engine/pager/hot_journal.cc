#include "engine/pager/hot_journal.h"

#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/format/db_header.h"
#include "engine/format/varint.h"

namespace pgqrs::engine {
namespace {

constexpr uint8_t kJournalMagic[8] = {0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7};
constexpr size_t kJournalHeaderBytes = 28;
constexpr uint32_t kAllRecords = 0xffffffff;  // page count field: "up to the end of file"

bool PowerOfTwoIn(uint32_t v, uint32_t lo, uint32_t hi) {
  return v >= lo && v <= hi && (v & (v - 1)) == 0;
}

// One journal header (each segment of a journal starts with one, padded to a sector).
struct Segment {
  uint32_t records = 0;
  uint32_t nonce = 0;
  uint32_t original_pages = 0;
  uint32_t sector_size = 0;
  uint32_t page_size = 0;
};

// Reads the header at `offset`; false if it is missing or lacks the magic.
absl::StatusOr<bool> ReadSegment(File* journal, uint64_t offset, uint64_t size, Segment* seg) {
  if (offset + kJournalHeaderBytes > size) return false;
  uint8_t h[kJournalHeaderBytes];
  PGQRS_RETURN_IF_ERROR(journal->ReadAt(offset, h, sizeof(h)).status());
  if (std::memcmp(h, kJournalMagic, sizeof(kJournalMagic)) != 0) return false;
  seg->records = Get32(h + 8);
  seg->nonce = Get32(h + 12);
  seg->original_pages = Get32(h + 16);
  seg->sector_size = Get32(h + 20);
  seg->page_size = Get32(h + 24);
  return true;
}

// SQLite's sparse page checksum: the nonce plus every 200th byte counted from the end.
uint32_t PageChecksum(uint32_t nonce, const uint8_t* page, uint32_t page_size) {
  uint32_t sum = nonce;
  for (int64_t i = int64_t{page_size} - 200; i > 0; i -= 200) sum += page[i];
  return sum;
}

// Collects the original page images, first record of each page wins. Playback stops at the
// first record with a bad checksum or page number 0, as SQLite's does.
absl::StatusOr<std::map<uint32_t, std::string>> ReadRecords(File* journal, uint64_t size,
                                                            const Segment& first) {
  const uint32_t ps = first.page_size;
  const uint64_t record_bytes = uint64_t{ps} + 8;
  const uint32_t lock_page = static_cast<uint32_t>(kPendingByte / ps) + 1;
  std::map<uint32_t, std::string> pages;
  std::vector<uint8_t> rec(record_bytes);
  Segment seg = first;
  uint64_t header_at = 0;
  for (;;) {
    uint64_t off = header_at + seg.sector_size;
    uint64_t n =
        seg.records == kAllRecords ? (size > off ? (size - off) / record_bytes : 0) : seg.records;
    for (uint64_t r = 0; r < n; ++r, off += record_bytes) {
      if (off + record_bytes > size) return pages;
      PGQRS_RETURN_IF_ERROR(journal->ReadAt(off, rec.data(), record_bytes).status());
      const uint32_t pgno = Get32(rec.data());
      if (pgno == 0 || Get32(rec.data() + 4 + ps) != PageChecksum(seg.nonce, rec.data() + 4, ps)) {
        return pages;
      }
      if (pgno > first.original_pages || pgno == lock_page) continue;
      pages.emplace(pgno, std::string(reinterpret_cast<const char*>(rec.data() + 4), ps));
    }
    // The next segment's header starts at the next sector boundary.
    header_at = (off + seg.sector_size - 1) / seg.sector_size * seg.sector_size;
    PGQRS_ASSIGN_OR_RETURN(bool more, ReadSegment(journal, header_at, size, &seg));
    if (!more || seg.page_size != ps || !PowerOfTwoIn(seg.sector_size, 32, 65536)) return pages;
  }
}

}  // namespace

absl::Status RollBackHotJournal(IoBackend* backend, File* db, const std::string& journal_path,
                                const std::string& dir, bool read_only) {
  absl::StatusOr<std::unique_ptr<File>> journal = backend->Open(journal_path, false, true);
  if (absl::IsNotFound(journal.status())) return absl::OkStatus();
  PGQRS_RETURN_IF_ERROR(journal.status());
  PGQRS_ASSIGN_OR_RETURN(uint64_t size, (*journal)->Size());
  Segment first;
  PGQRS_ASSIGN_OR_RETURN(bool hot, ReadSegment(journal->get(), 0, size, &first));
  if (!hot) return absl::OkStatus();
  if (read_only) {
    return absl::FailedPreconditionError(
        absl::StrCat(journal_path, ": hot rollback journal of an interrupted sqlite3 ",
                     "transaction; open the database read-write once to roll it back"));
  }
  if (!PowerOfTwoIn(first.page_size, 512, 65536) || !PowerOfTwoIn(first.sector_size, 32, 65536)) {
    return absl::DataLossError(absl::StrCat(journal_path, ": bad rollback journal header"));
  }
  PGQRS_ASSIGN_OR_RETURN(auto pages, ReadRecords(journal->get(), size, first));
  std::vector<WriteOp> ops;
  ops.reserve(pages.size());
  for (const auto& [pgno, image] : pages) {
    ops.push_back({uint64_t{pgno - 1} * first.page_size,
                   reinterpret_cast<const uint8_t*>(image.data()), image.size()});
  }
  PGQRS_RETURN_IF_ERROR(db->Write(ops));
  PGQRS_RETURN_IF_ERROR(db->Truncate(uint64_t{first.original_pages} * first.page_size));
  PGQRS_RETURN_IF_ERROR(db->Sync());
  journal->reset();
  PGQRS_RETURN_IF_ERROR(backend->Remove(journal_path));
  return backend->SyncDirectory(dir);
}

}  // namespace pgqrs::engine
