// Snapshot reads of WAL frames the WAL still keeps in memory (the ring of its newest frames)
// are copied from memory; frames the ring has since overwritten are read from the file, and
// either way a snapshot sees the page as of its commit. A backend counts the reads of the WAL.
#include <atomic>
#include <catch2/catch.hpp>
#include <string>

#include "absl/strings/match.h"
#include "engine/db/database.h"
#include "engine/io/sim_backend.h"

namespace pgqrs::engine {
namespace {

class CountingFile : public File {
 public:
  CountingFile(std::unique_ptr<File> inner, std::atomic<int>* reads)
      : inner_(std::move(inner)), reads_(reads) {}
  absl::StatusOr<size_t> ReadAt(uint64_t offset, uint8_t* dst, size_t n) override {
    if (reads_ != nullptr) reads_->fetch_add(1);
    return inner_->ReadAt(offset, dst, n);
  }
  absl::Status Write(const std::vector<WriteOp>& ops) override { return inner_->Write(ops); }
  absl::Status WriteAndSync(const std::vector<WriteOp>& ops) override {
    return inner_->WriteAndSync(ops);
  }
  absl::Status Sync() override { return inner_->Sync(); }
  absl::StatusOr<uint64_t> Size() override { return inner_->Size(); }
  absl::Status Truncate(uint64_t size) override { return inner_->Truncate(size); }
  absl::Status Lock(uint64_t start, uint64_t len, bool exclusive) override {
    return inner_->Lock(start, len, exclusive);
  }

 private:
  std::unique_ptr<File> inner_;
  std::atomic<int>* reads_;
};

// Counts ReadAt calls on "-wal" files.
class WalReadCountingBackend : public IoBackend {
 public:
  WalReadCountingBackend() : sim_(std::make_shared<SimBackend>(3)) {}
  const char* name() const override { return "counting"; }
  absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path, bool create,
                                             bool read_only) override {
    absl::StatusOr<std::unique_ptr<File>> f = sim_->Open(path, create, read_only);
    if (!f.ok()) return f.status();
    std::atomic<int>* reads = absl::EndsWith(path, "-wal") ? &wal_reads_ : nullptr;
    return std::unique_ptr<File>(new CountingFile(std::move(*f), reads));
  }
  absl::Status Remove(const std::string& path) override { return sim_->Remove(path); }
  absl::Status SyncDirectory(const std::string& dir) override { return sim_->SyncDirectory(dir); }
  bool Exists(const std::string& path) override { return sim_->Exists(path); }

  int TakeWalReads() { return wal_reads_.exchange(0); }

 private:
  std::shared_ptr<SimBackend> sim_;  // SimBackend hands out weak references to itself
  std::atomic<int> wal_reads_{0};
};

std::string ValueOfRow1(Transaction* txn) {
  absl::StatusOr<std::optional<Row>> row = txn->Get("t", 1);
  REQUIRE(row.ok());
  REQUIRE(row->has_value());
  return (**row)[1].bytes();
}

void SetRow1(Database* db, const std::string& value) {
  auto txn = *db->Begin();
  REQUIRE(txn->Update("t", 1, {Value::Integer(1), Value::Text(value)}).ok());
  REQUIRE(txn->Commit().ok());
}

TEST_CASE("snapshots copy kept WAL frames from memory and read overwritten ones from the file",
          "[engine][wal]") {
  auto backend = std::make_shared<WalReadCountingBackend>();
  DatabaseOptions options;
  options.backend = backend;
  options.wal_checkpoint_pages = 16;  // the WAL keeps its 16 newest frames
  auto db = *Database::Open("/ring.db", options);
  {
    auto txn = *db->Begin();
    REQUIRE(
        txn->CreateTable({"t", {{"id", ColumnType::kInteger}, {"v", ColumnType::kText}}, 0}).ok());
    REQUIRE(txn->Insert("t", {Value::Integer(1), Value::Text("first")}).ok());
    REQUIRE(txn->Commit().ok());
  }
  backend->TakeWalReads();

  // The table's pages are in the WAL's newest frames: no read of the WAL file.
  auto kept = *db->BeginRead();
  REQUIRE(ValueOfRow1(kept.get()) == "first");
  REQUIRE(backend->TakeWalReads() == 0);

  // An open snapshot keeps the WAL from restarting, so these commits push its frames out of
  // the ring (checkpoints copy nothing past the snapshot).
  auto overwritten = *db->BeginRead();
  for (int i = 0; i < 40; ++i) SetRow1(db.get(), "update " + std::to_string(i));
  backend->TakeWalReads();
  REQUIRE(ValueOfRow1(overwritten.get()) == "first");
  REQUIRE(backend->TakeWalReads() > 0);

  auto newest = *db->BeginRead();
  REQUIRE(ValueOfRow1(newest.get()) == "update 39");
  REQUIRE(backend->TakeWalReads() == 0);
  REQUIRE(kept->Commit().ok());
  REQUIRE(overwritten->Commit().ok());
  REQUIRE(newest->Commit().ok());
  REQUIRE(db->Close().ok());
}

}  // namespace
}  // namespace pgqrs::engine
