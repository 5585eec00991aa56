// Encryption at rest: an encrypted workload judged by sqlite3 after decryption, key errors at
// open that write nothing, tampering detected as DataLoss naming the page, torn WAL tails
// recovered, key files and variables, and the key never in an error message.
#include <sys/stat.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "engine/crypto/database_file.h"
#include "engine/crypto/page_cipher.h"
#include "engine/format/varint.h"
#include "engine/wal/wal.h"
#include "tests/engine/test_util.h"
#include "tests/engine/workload.h"

namespace pgqrs::engine::testing {
namespace {

constexpr char kKeyHex[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
constexpr char kOtherKeyHex[] = "f0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f";

std::shared_ptr<const EncryptionKey> Key(const char* hex) {
  auto key = EncryptionKey::Parse(hex);
  REQUIRE(key.ok());
  return *key;
}

DatabaseOptions Encrypted(const std::string& backend, const char* hex = kKeyHex,
                          uint32_t key_id = 3) {
  DatabaseOptions o = Options(backend);
  o.key = Key(hex);
  o.key_id = key_id;
  return o;
}

// Fails the test if `text` contains the key in any spelling.
void RequireNoKey(const std::string& text) {
  INFO(text);
  REQUIRE(!absl::StrContains(absl::AsciiStrToLower(text), kKeyHex));
  REQUIRE(!absl::StrContains(text, absl::HexStringToBytes(kKeyHex)));
}

TableDef BlobTable() {
  return {"t", {{"id", ColumnType::kInteger}, {"body", ColumnType::kBlob}}, 0};
}

// Creates `path` with `rows` rows of 300-byte bodies (one page per ~12 rows), encrypted.
void MakeBlobDb(const std::string& path, const DatabaseOptions& o, int rows, char fill = 'x') {
  auto db = Database::Open(path, o);
  REQUIRE(db.ok());
  auto txn = (*db)->Begin();
  REQUIRE(txn.ok());
  REQUIRE((*txn)->CreateTable(BlobTable()).ok());
  for (int i = 1; i <= rows; ++i) {
    REQUIRE((*txn)->Insert("t", {Value::Integer(i), Value::Blob(std::string(300, fill))}).ok());
  }
  REQUIRE((*txn)->Commit().ok());
  REQUIRE((*db)->Close().ok());
}

// Opens `path` and reads every row of table t; returns the first error.
absl::Status OpenAndReadAll(const std::string& path, const DatabaseOptions& o) {
  auto db = Database::Open(path, o);
  if (!db.ok()) return db.status();
  auto txn = (*db)->Begin();
  if (!txn.ok()) return txn.status();
  auto it = (*txn)->ScanTable("t");
  if (!it.ok()) return it.status();
  while ((*it)->Valid()) {
    auto row = (*it)->row();
    if (!row.ok()) return row.status();
    absl::Status s = (*it)->Next();
    if (!s.ok()) return s;
  }
  (*txn)->Rollback();
  return (*db)->Close();
}

void RequireDataLossOnPage(const absl::Status& s, uint32_t pgno) {
  INFO(s.ToString());
  REQUIRE(absl::IsDataLoss(s));
  REQUIRE(absl::StrContains(s.message(), "page " + std::to_string(pgno) + " fails"));
  RequireNoKey(s.ToString());
}

TEST_CASE("an encrypted workload matches the model; sqlite3 checks the decrypted file",
          "[engine][crypto][oracle]") {
  const std::string backend = GENERATE(as<std::string>{}, "uring", "posix");
  std::string dir = NewTempDir("crypto_oracle");
  std::string path = dir + "/q.db";
  DatabaseOptions o = Encrypted(backend);
  o.cache_pages = 32;           // spills to the WAL and re-reads from it
  o.wal_checkpoint_pages = 40;  // many checkpoints
  Model model;
  Workload w(11, 15, "SECRETLABEL");
  {
    auto db = Database::Open(path, o);
    REQUIRE(db.ok());
    auto txn = (*db)->Begin();
    REQUIRE(txn.ok());
    REQUIRE((*txn)->CreateTable(MsgsTable()).ok());
    for (const IndexDef& ix : MsgsIndexes()) REQUIRE((*txn)->CreateIndex(ix).ok());
    REQUIRE((*txn)->Commit().ok());
    for (int t = 0; t < 150; ++t) {
      auto txn = (*db)->Begin();
      REQUIRE(txn.ok());
      for (int i = 0; i < 20; ++i) {
        absl::Status s = w.Step(txn->get(), &model);
        INFO(s.ToString());
        REQUIRE(s.ok());
      }
      REQUIRE((*txn)->Commit().ok());
    }
    CheckEngine(db->get(), model);
    REQUIRE((*db)->Close().ok());
  }
  REQUIRE(!absl::StrContains(ReadFile(path), "SECRETLABEL"));  // rows are not in clear
  {
    auto db = Database::Open(path, o);  // reopen and read everything back
    REQUIRE(db.ok());
    CheckEngine(db->get(), model);
    REQUIRE((*db)->Close().ok());
  }
  KeyRef key{o.key, o.key_id};
  auto report = VerifyDatabaseFile(path, &key);
  INFO(report.status().ToString());
  REQUIRE(report.ok());
  REQUIRE(report->pages_authenticated > 50);
  std::string plain = dir + "/plain.db";
  REQUIRE(RewriteDatabaseFile(path, plain, &key, nullptr).ok());
  CheckSqlite(plain, model);
  REQUIRE(absl::StrContains(ReadFile(plain), "SECRETLABEL"));
  // Re-encrypting the plain copy gives a database the engine reads with the key.
  std::string again = dir + "/again.db";
  KeyRef other{Key(kOtherKeyHex), 9};
  REQUIRE(RewriteDatabaseFile(plain, again, nullptr, &other).ok());
  auto db = Database::Open(again, Encrypted(backend, kOtherKeyHex, 9));
  INFO(db.status().ToString());
  REQUIRE(db.ok());
  CheckEngine(db->get(), model);
  REQUIRE((*db)->Close().ok());
}

TEST_CASE("key mismatches fail at open with one clear error and write nothing",
          "[engine][crypto]") {
  const std::string backend = GENERATE(as<std::string>{}, "uring", "posix");
  std::string dir = NewTempDir("crypto_keys");
  std::string enc = dir + "/enc.db", plain = dir + "/plain.db";
  MakeBlobDb(enc, Encrypted(backend), 40);
  MakeBlobDb(plain, Options(backend), 40);
  struct Case {
    std::string name, path;
    DatabaseOptions options;
    absl::StatusCode code;
    std::string message;
  } cases[] = {
      {"no key", enc, Options(backend), absl::StatusCode::kFailedPrecondition,
       "encrypted and no encryption key"},
      {"wrong key", enc, Encrypted(backend, kOtherKeyHex), absl::StatusCode::kPermissionDenied,
       "wrong encryption key"},
      {"wrong key id", enc, Encrypted(backend, kKeyHex, 4), absl::StatusCode::kPermissionDenied,
       "key id 3, not key id 4"},
      {"key for a plain file", plain, Encrypted(backend), absl::StatusCode::kFailedPrecondition,
       "not encrypted"},
  };
  for (Case& c : cases) {
    INFO(c.name);
    const std::string before = ReadFile(c.path);
    auto db = Database::Open(c.path, c.options);
    INFO(db.status().ToString());
    REQUIRE(db.status().code() == c.code);
    REQUIRE(absl::StrContains(db.status().message(), c.message));
    RequireNoKey(db.status().ToString());
    REQUIRE(ReadFile(c.path) == before);
    REQUIRE(!std::filesystem::exists(c.path + "-wal"));
  }
  REQUIRE(OpenAndReadAll(enc, Encrypted(backend)).ok());
  REQUIRE(OpenAndReadAll(plain, Options(backend)).ok());
}

TEST_CASE("tampered pages are DataLoss naming the page", "[engine][crypto][tamper]") {
  const std::string backend = GENERATE(as<std::string>{}, "uring", "posix");
  std::string dir = NewTempDir("crypto_tamper");
  std::string good = dir + "/good.db", other = dir + "/other.db", bad = dir + "/bad.db";
  MakeBlobDb(good, Encrypted(backend), 120);
  MakeBlobDb(other, Encrypted(backend), 120, 'y');  // same key, another database
  const std::string image = ReadFile(good), foreign = ReadFile(other);
  const size_t ps = kDefaultPageSize;
  const uint32_t pages = static_cast<uint32_t>(image.size() / ps);
  REQUIRE(pages >= 8);
  REQUIRE(OpenAndReadAll(good, Encrypted(backend)).ok());
  std::mt19937 rng(5);
  for (uint32_t pgno = 1; pgno <= pages; ++pgno) {
    INFO("page " << pgno);
    // One flipped bit anywhere in the encrypted part, the nonce or the tag.
    std::string img = image;
    const size_t first = pgno == 1 ? kDbHeaderSize : 0;
    size_t at = (pgno - 1) * ps + first + rng() % (ps - first);
    img[at] ^= static_cast<char>(1 << (rng() % 8));
    WriteFile(bad, img);
    RequireDataLossOnPage(OpenAndReadAll(bad, Encrypted(backend)), pgno);
    // The same page taken from another database encrypted with the same key.
    img = image;
    img.replace((pgno - 1) * ps, ps, foreign.substr((pgno - 1) * ps, ps));
    if (pgno == 1) img.replace(0, kDbHeaderSize, image.substr(0, kDbHeaderSize));
    WriteFile(bad, img);
    RequireDataLossOnPage(OpenAndReadAll(bad, Encrypted(backend)), pgno);
  }
  // Two pages swapped: the first one read fails.
  std::string img = image;
  std::string p3 = img.substr(2 * ps, ps);
  img.replace(2 * ps, ps, img.substr(4 * ps, ps));
  img.replace(4 * ps, ps, p3);
  WriteFile(bad, img);
  absl::Status s = OpenAndReadAll(bad, Encrypted(backend));
  INFO(s.ToString());
  REQUIRE(absl::IsDataLoss(s));
  REQUIRE((absl::StrContains(s.message(), "page 3 fails") ||
           absl::StrContains(s.message(), "page 5 fails")));
  // A changed clear header field on page 1 (the change counter) fails page 1.
  img = image;
  img[27] ^= 1;
  WriteFile(bad, img);
  RequireDataLossOnPage(OpenAndReadAll(bad, Encrypted(backend)), 1);
}

// The newest committed frame of every page in WAL image `wal` (frames of the header's salts,
// up to the last commit frame): pgno -> page image as stored.
std::map<uint32_t, std::string> NewestWalFrames(const std::string& wal) {
  const size_t frame = kWalFrameHeaderSize + kDefaultPageSize;
  const auto* bytes = reinterpret_cast<const uint8_t*>(wal.data());
  std::map<uint32_t, std::string> newest, pending;
  for (size_t off = kWalHeaderSize; off + frame <= wal.size(); off += frame) {
    if (std::memcmp(bytes + off + 8, bytes + 16, 8) != 0) break;  // salts of another generation
    pending[Get32(bytes + off)] = wal.substr(off + kWalFrameHeaderSize, kDefaultPageSize);
    if (Get32(bytes + off + 4) != 0) {  // commit frame
      for (auto& [pgno, image] : pending) newest[pgno] = std::move(image);
      pending.clear();
    }
  }
  return newest;
}

TEST_CASE("a checkpoint copies each page's newest WAL frame as stored; moved pages still fail",
          "[engine][crypto][checkpoint]") {
  const std::string backend = GENERATE(as<std::string>{}, "uring", "posix");
  // Every frame kept in memory until the explicit checkpoint below; or a small cache (spills)
  // and a small threshold: automatic checkpoints before it, and frames read back from the WAL.
  const bool small = GENERATE(false, true);
  INFO(backend << (small ? ", small cache and threshold" : ""));
  std::string dir = NewTempDir("crypto_ckpt");
  std::string path = dir + "/q.db";
  DatabaseOptions o = Encrypted(backend);
  o.cache_pages = small ? 16 : 2000;
  o.wal_checkpoint_pages = small ? 30 : 100000;
  auto db = Database::Open(path, o);
  REQUIRE(db.ok());
  {
    auto txn = (*db)->Begin();
    REQUIRE(txn.ok());
    REQUIRE((*txn)->CreateTable(BlobTable()).ok());
    for (int i = 1; i <= 400; ++i) {
      REQUIRE((*txn)->Insert("t", {Value::Integer(i), Value::Blob(std::string(300, 'a'))}).ok());
    }
    REQUIRE((*txn)->Commit().ok());
  }
  for (int round = 0; round < 5; ++round) {  // pages with several frames: the newest counts
    auto txn = (*db)->Begin();
    REQUIRE(txn.ok());
    for (int i = 1 + round; i <= 400; i += 7) {
      REQUIRE((*txn)->Update("t", i, {Value::Integer(i), Value::Blob(std::string(300, 'b'))}).ok());
    }
    REQUIRE((*txn)->Commit().ok());
  }
  const std::map<uint32_t, std::string> frames = NewestWalFrames(ReadFile(path + "-wal"));
  REQUIRE(frames.size() > 30);
  REQUIRE((*db)->Checkpoint().ok());
  REQUIRE((*db)->wal_frames() == 0);  // complete: every frame is in the database file
  const std::string image = ReadFile(path);
  for (const auto& [pgno, sealed] : frames) {
    INFO("page " << pgno);
    REQUIRE((image.substr((pgno - 1) * kDefaultPageSize, kDefaultPageSize) == sealed));
  }
  REQUIRE((*db)->Close().ok());
  REQUIRE(OpenAndReadAll(path, o).ok());
  // Copied as stored, each page is still bound to its page number: two swapped pages, or a
  // page's WAL frame written at another page number, fail authentication.
  const size_t ps = kDefaultPageSize;
  std::string img = image;
  img.replace(2 * ps, ps, image.substr(3 * ps, ps));
  img.replace(3 * ps, ps, image.substr(2 * ps, ps));
  WriteFile(path, img);
  absl::Status s = OpenAndReadAll(path, o);
  INFO(s.ToString());
  REQUIRE(absl::IsDataLoss(s));
  REQUIRE((absl::StrContains(s.message(), "page 3 fails") ||
           absl::StrContains(s.message(), "page 4 fails")));
  const uint32_t from = std::next(frames.begin())->first, to = std::prev(frames.end())->first;
  img = image;
  img.replace((to - 1) * ps, ps, frames.at(from));
  WriteFile(path, img);
  RequireDataLossOnPage(OpenAndReadAll(path, o), to);
}

TEST_CASE(
    "automatic checkpoints read no WAL frame back when commits stay under half the "
    "threshold",
    "[engine][crypto][checkpoint]") {
  std::atomic<int> wal_reads{0};
  DatabaseOptions o = Encrypted("posix");
  o.backend = NewWalHookBackend(11, {.on_read = [&wal_reads] { ++wal_reads; }, .on_sync = {}});
  o.wal_checkpoint_pages = 40;
  const std::string path = "/ring.db";
  constexpr int kRows = 520;  // about 40 pages of 13 rows
  MakeBlobDb(path, o, kRows);
  auto db = Database::Open(path, o);
  REQUIRE(db.ok());
  wal_reads = 0;  // recovery at open reads the WAL; checkpoints alone are counted below
  uint32_t restarts = 0, frames = 0;
  for (int k = 0; k < 40; ++k) {
    // 15 rows 13 apart, a window moving over the table: about 16 frames per commit, and
    // pages whose newest frame is among a checkpoint's oldest ones.
    auto txn = (*db)->Begin();
    REQUIRE(txn.ok());
    for (int j = 0; j < 15; ++j) {
      const int64_t id = ((k * 15 + j) * 13) % kRows + 1;
      REQUIRE(
          (*txn)->Update("t", id, {Value::Integer(id), Value::Blob(std::string(300, 'u'))}).ok());
    }
    REQUIRE((*txn)->Commit().ok());
    restarts += (*db)->wal_frames() < frames;
    frames = (*db)->wal_frames();
  }
  REQUIRE(restarts >= 8);
  REQUIRE(wal_reads == 0);
  REQUIRE((*db)->Close().ok());
  REQUIRE(OpenAndReadAll(path, o).ok());
}

TEST_CASE("a checkpoint after a rolled-back spilling transaction copies only committed frames",
          "[engine][crypto][checkpoint]") {
  const std::string backend = GENERATE(as<std::string>{}, "uring", "posix");
  std::string dir = NewTempDir("crypto_spill");
  std::string path = dir + "/q.db";
  DatabaseOptions o = Encrypted(backend);
  o.cache_pages = 16;
  o.wal_checkpoint_pages = 100000;
  auto db = Database::Open(path, o);
  REQUIRE(db.ok());
  {
    auto txn = (*db)->Begin();
    REQUIRE(txn.ok());
    REQUIRE((*txn)->CreateTable(BlobTable()).ok());
    REQUIRE((*txn)->Commit().ok());
  }
  {
    auto txn = (*db)->Begin();  // spills uncommitted frames, then rolls them back
    REQUIRE(txn.ok());
    for (int i = 1; i <= 600; ++i) {
      REQUIRE((*txn)->Insert("t", {Value::Integer(i), Value::Blob(std::string(300, 'r'))}).ok());
    }
    REQUIRE(ReadFile(path + "-wal").size() > kWalHeaderSize + 20 * kDefaultPageSize);  // spilled
    (*txn)->Rollback();
  }
  {
    auto txn = (*db)->Begin();  // its frames overwrite some of the discarded ones
    REQUIRE(txn.ok());
    for (int i = 1; i <= 100; ++i) {
      REQUIRE((*txn)->Insert("t", {Value::Integer(i), Value::Blob(std::string(300, 'c'))}).ok());
    }
    REQUIRE((*txn)->Commit().ok());
  }
  const std::map<uint32_t, std::string> frames = NewestWalFrames(ReadFile(path + "-wal"));
  REQUIRE((*db)->Checkpoint().ok());
  REQUIRE((*db)->wal_frames() == 0);
  const std::string image = ReadFile(path);
  for (const auto& [pgno, sealed] : frames) {
    INFO("page " << pgno);
    REQUIRE((image.substr((pgno - 1) * kDefaultPageSize, kDefaultPageSize) == sealed));
  }
  REQUIRE((*db)->Close().ok());
  o.checkpoint_on_close = false;
  auto reopened = Database::Open(path, o);
  REQUIRE(reopened.ok());
  std::vector<Row> rows = EngineRows(reopened->get(), "t");
  REQUIRE(rows.size() == 100);
  for (const Row& r : rows) REQUIRE(r[1].bytes() == std::string(300, 'c'));
  REQUIRE((*reopened)->Close().ok());
}

TEST_CASE("a WAL cut mid-frame loses only the torn commit; a flipped WAL byte likewise",
          "[engine][crypto][wal]") {
  const std::string backend = GENERATE(as<std::string>{}, "uring", "posix");
  const bool cut = GENERATE(true, false);
  std::string dir = NewTempDir("crypto_wal");
  std::string path = dir + "/q.db";
  DatabaseOptions o = Encrypted(backend);
  o.checkpoint_on_close = false;
  MakeBlobDb(path, o, 30);  // commit 1 (left in the WAL)
  {
    auto db = Database::Open(path, o);
    REQUIRE(db.ok());
    auto txn = (*db)->Begin();
    REQUIRE(txn.ok());
    REQUIRE((*txn)->Insert("t", {Value::Integer(1000), Value::Blob("last")}).ok());
    REQUIRE((*txn)->Commit().ok());  // commit 2: the WAL's last frames
    REQUIRE((*db)->Close().ok());
  }
  std::string wal = ReadFile(path + "-wal");
  const size_t frame = kWalFrameHeaderSize + kDefaultPageSize;
  REQUIRE(wal.size() > kWalHeaderSize + 2 * frame);
  if (cut) {
    wal.resize(wal.size() - frame / 2);
  } else {
    wal[wal.size() - 100] ^= 0x10;  // inside the last frame's sealed page
  }
  WriteFile(path + "-wal", wal);
  auto db = Database::Open(path, o);
  INFO(db.status().ToString());
  REQUIRE(db.ok());
  std::vector<Row> rows = EngineRows(db->get(), "t");
  REQUIRE(rows.size() == 30);  // commit 2 is torn away, commit 1 intact
  REQUIRE((*db)->Close().ok());
}

TEST_CASE("every sealed page image gets a new nonce, and opens back to the plain page",
          "[engine][crypto]") {
  DbHeader header;
  REQUIRE(InitEncryptionHeader(*Key(kKeyHex), 1, &header).ok());
  auto cipher = PageCipher::Create(Key(kKeyHex), header);
  REQUIRE(cipher.ok());
  std::vector<uint8_t> plain(kDefaultPageSize, 0x5a), a(plain.size()), b(plain.size());
  SerializeDbHeader(header, plain.data());
  std::set<std::string> nonces;
  for (int i = 0; i < 1000; ++i) {
    REQUIRE((*cipher)->Seal(1, plain.data(), a.data()).ok());
    nonces.insert(std::string(a.begin() + header.usable_size(),
                              a.begin() + header.usable_size() + kNonceBytes));
  }
  REQUIRE(nonces.size() == 1000);
  REQUIRE((*cipher)->Seal(7, plain.data(), b.data()).ok());
  REQUIRE(std::memcmp(a.data() + kDbHeaderSize, b.data() + kDbHeaderSize, 64) != 0);
  REQUIRE(std::memcmp(a.data(), plain.data(), kDbHeaderSize) == 0);  // header in clear
  REQUIRE((*cipher)->Open(7, b.data()).ok());
  REQUIRE(std::memcmp(b.data(), plain.data(), header.usable_size()) == 0);
  REQUIRE(absl::IsDataLoss((*cipher)->Open(8, a.data())));
}

TEST_CASE("keys come from 0600 files or environment variables, never into messages",
          "[engine][crypto][keys]") {
  std::string dir = NewTempDir("crypto_keyfile");
  const std::string file = dir + "/engine.key";
  WriteFile(file, std::string(kKeyHex) + "\n");
  chmod(file.c_str(), 0644);
  auto refused = EncryptionKey::FromFile(file);
  REQUIRE(absl::IsPermissionDenied(refused.status()));
  RequireNoKey(refused.status().ToString());
  chmod(file.c_str(), 0600);
  auto hex = EncryptionKey::FromFile(file);
  REQUIRE(hex.ok());
  REQUIRE(std::string(reinterpret_cast<const char*>((*hex)->bytes()), kKeyBytes) ==
          absl::HexStringToBytes(kKeyHex));
  WriteFile(file, absl::HexStringToBytes(kKeyHex));  // 32 raw bytes
  auto raw = EncryptionKey::FromFile(file);
  REQUIRE(raw.ok());
  REQUIRE(std::memcmp((*raw)->bytes(), (*hex)->bytes(), kKeyBytes) == 0);
  WriteFile(file, std::string(kKeyHex).substr(0, 63) + "z");
  auto bad = EncryptionKey::FromFile(file);
  REQUIRE(absl::IsInvalidArgument(bad.status()));
  RequireNoKey(bad.status().ToString());
  REQUIRE(!absl::StrContains(bad.status().message(), std::string(kKeyHex).substr(0, 20)));
  setenv("PGQRS_CRYPTO_TEST_KEY", kKeyHex, 1);
  auto env = EncryptionKey::FromEnv("PGQRS_CRYPTO_TEST_KEY");
  REQUIRE(env.ok());
  REQUIRE(std::memcmp((*env)->bytes(), (*hex)->bytes(), kKeyBytes) == 0);
  REQUIRE(absl::IsNotFound(EncryptionKey::FromEnv("PGQRS_CRYPTO_TEST_UNSET").status()));
}

}  // namespace
}  // namespace pgqrs::engine::testing
