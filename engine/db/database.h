// The engine's public API: a typed, SQL-free interface to a SQLite-format database.
//
//   DatabaseOptions opts;                       // io_uring if available, else POSIX
//   PGQRS_ASSIGN_OR_RETURN(auto db, Database::Open("/var/lib/q.db", opts));
//   PGQRS_ASSIGN_OR_RETURN(auto txn, db->Begin());
//   PGQRS_RETURN_IF_ERROR(txn->CreateTable(messages_def));
//   PGQRS_ASSIGN_OR_RETURN(int64_t id, txn->Insert("messages", row));
//   PGQRS_RETURN_IF_ERROR(txn->Commit());       // durable (WAL fdatasync) when OK
//
// Concurrency model: one writing transaction at a time, any number of read transactions
// beside it (engine/MVCC.md). Begin() blocks while another writing transaction is open.
// BeginRead() never waits for the writer: it reads the newest durable commit as of its start
// (a snapshot: every commit whose Commit returned before, none whose WAL fsync had not
// finished), which neither later commits nor checkpoints change, and it never blocks them.
// Commit releases the writer slot before waiting for the WAL fsync, so transactions committed
// by several threads share fsyncs (group commit). A writing transaction started after another
// one's Commit released the slot sees that transaction's changes even before its fsync
// finished; its own Commit (CommitDurable if it wrote nothing) cannot return before that
// fsync. A read transaction does not see such a commit until its fsync is done.
// With DatabaseOptions::mvcc, BeginConcurrent() starts writing transactions that run side by
// side on snapshots and take the writer slot only to commit (first committer wins on each row;
// the loser gets IsWriteConflict). Begin() stays exclusive: no other transaction commits while
// it is open.
//
// Rows are std::vector<Value> with one value per declared column, in declaration order. The
// INTEGER PRIMARY KEY column (if any) holds the rowid.
//
// Thread safety: Database is thread-safe. A Transaction and its iterators belong to one thread
// at a time and must not outlive the Database.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/catalog/schema.h"
#include "engine/crypto/key.h"
#include "engine/db/write_stamps.h"
#include "engine/format/record.h"
#include "engine/io/io_backend.h"
#include "engine/wal/wal.h"

namespace pgqrs::engine {

class Pager;
class PageSource;
class PageWriter;
class PrivatePages;
class SnapshotPages;
class BTree;
class Cursor;
class Transaction;

struct DatabaseOptions {
  // Which I/O backend to use; ignored when `backend` is set.
  IoBackendKind io = IoBackendKind::kAuto;
  // An explicit backend (e.g. a SimBackend in tests).
  std::shared_ptr<IoBackend> backend;
  // Pages kept in memory (4 KiB each by default). Default 2000 (8 MiB). A transaction that
  // dirties more spills the excess to the WAL (uncommitted frames) instead of growing memory.
  size_t cache_pages = 2000;
  // Checkpoint once the WAL holds this many frames (done by the next Begin). Default 1000.
  // An encrypted database keeps this many of the WAL's newest frames in memory besides the
  // cache (4 MiB at the defaults), so that checkpoints copy them without sealing again.
  uint32_t wal_checkpoint_pages = 1000;
  // Open without writing anything; commits that change data fail with FailedPrecondition.
  // The file is still locked exclusively (sqlite3 and other engines are kept out), which
  // needs write permission on the database file.
  bool read_only = false;
  // Checkpoint and delete the WAL on Close (turn off to simulate a crash in tests).
  bool checkpoint_on_close = true;
  // Seed for WAL salts; 0 = random.
  uint64_t seed = 0;
  // Encryption at rest (FORMAT.md section 5). A database created with a key is encrypted with
  // AES-256-GCM per page; opening an encrypted one needs the same key and key id. A missing key
  // for an encrypted file or a key for a plain one is FailedPrecondition, a wrong key or key id
  // PermissionDenied (nothing is written in either case); a page that fails authentication is
  // DataLoss naming it.
  std::shared_ptr<const EncryptionKey> key;
  uint32_t key_id = 0;
  // Concurrent writing transactions (BeginConcurrent, engine/MVCC.md section 7). Off: every
  // writing transaction is exclusive and BeginConcurrent is Begin. Nothing in the file or the
  // WAL depends on it: a database may be opened with or without it.
  bool mvcc = false;
};

// The status a concurrent transaction's Commit (or CommitDurable) returns when another
// transaction committed a conflicting change after its snapshot was taken: a write to a row it
// also wrote, a key of a UNIQUE index it also inserted, a parent row its foreign key needs. The
// transaction was rolled back and nothing of it was committed; running it again (a new
// transaction, which sees the winner's commit) may succeed. Code kAborted with a payload that
// no other engine error carries.
absl::Status WriteConflictError(std::string_view detail);
// True for a status made by WriteConflictError.
bool IsWriteConflict(const absl::Status& status);

// Index range for ScanIndex. Bounds are prefixes of the index columns (in index order);
// an absent bound is unbounded. Comparisons honour DESC columns, i.e. "lower" means "first in
// index order".
struct IndexBound {
  std::vector<Value> key;
  bool inclusive = true;
};
struct IndexRange {
  std::optional<IndexBound> lower;
  std::optional<IndexBound> upper;
  bool reverse = false;  // iterate from the upper end towards the lower end
};

// Iterates rows of a table in rowid order, or entries of an index in key order.
// Valid until the transaction ends. Modifying the table during iteration is allowed; the
// iterator continues after (or before, when reverse) the last entry it returned.
class Iterator {
 public:
  ~Iterator();
  bool Valid() const { return valid_; }
  absl::Status Next();
  int64_t rowid() const { return rowid_; }
  // Index iterators: the indexed column values of the current entry (without the rowid).
  const std::vector<Value>& key() const { return key_; }
  // The current row (table iterators: decoded already; index iterators: looked up).
  absl::StatusOr<Row> row();

 private:
  friend class Transaction;
  Iterator() = default;
  absl::Status Load();

  Transaction* txn_ = nullptr;
  std::string table_;
  std::unique_ptr<BTree> tree_;
  std::unique_ptr<Cursor> cursor_;
  bool index_ = false;
  bool reverse_ = false;
  std::optional<IndexBound> stop_;
  std::vector<bool> desc_;
  bool valid_ = false;
  int64_t rowid_ = 0;
  std::vector<Value> key_;
  std::optional<Row> row_;
};

class Database {
 public:
  // Opens or creates the database at `path`. See DatabaseOptions. Unavailable("database is
  // locked") when another process (or Database) has it open.
  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::string& path,
                                                        const DatabaseOptions& options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Starts an exclusive writing transaction, waiting for the open one (if any) to end. While it
  // is open no other transaction commits. Schema changes (CreateTable, CreateIndex) need one.
  absl::StatusOr<std::unique_ptr<Transaction>> Begin();
  // Starts a writing transaction that runs concurrently with others (DatabaseOptions::mvcc);
  // with mvcc off this is exactly Begin(). It never waits: it works on the newest durable
  // commit (a snapshot, like BeginRead) and sees its own changes, indexes included. Its Commit
  // takes the writer slot briefly: it fails with a write conflict (IsWriteConflict) when a
  // commit after its snapshot wrote a row it wrote, or when its changes no longer apply to the
  // newest state because of such a commit (a UNIQUE key taken, a parent row deleted); otherwise
  // its row operations are replayed on the newest state and committed (group commit as
  // usual). Update, Modify and Delete of a row that such a commit wrote already fail with the
  // write conflict (the transaction stays usable; its Commit would fail). Inserts get rowids no
  // other open transaction gets (sqlite_sequence stays the maximum); a rolled-back insert leaves a
  // gap. Schema changes need Begin(). Its Commit takes the writer slot: never commit it from a
  // thread that holds an exclusive transaction.
  absl::StatusOr<std::unique_ptr<Transaction>> BeginConcurrent();
  // Starts a read transaction on the newest durable commit, without waiting for the writing
  // transaction or for an fsync. It sees every commit whose Commit returned before it began
  // and nothing a crash could undo; modifying calls fail with FailedPrecondition. While it is open,
  // checkpoints copy only what it does not read from the WAL and do not restart the WAL (keep read
  // transactions short).
  absl::StatusOr<std::unique_ptr<Transaction>> BeginRead();
  // Copies committed WAL frames into the database file (those no open read transaction still
  // reads from the WAL) and restarts the WAL when it is all copied and unused. Waits for the
  // open writing transaction.
  absl::Status Checkpoint();
  // Checkpoints (unless disabled) and releases the file lock. Idempotent.
  // REQUIRES: no other thread is inside Begin(), BeginRead(), BeginConcurrent() or Commit()
  // (Commit waits for the WAL fsync after releasing the transaction slot, so Close cannot
  // detect it), and no read or concurrent transaction is open.
  absl::Status Close();

  // Names of the I/O backend in use ("uring", "posix", "sim").
  std::string backend_name() const;
  // Definitions of all tables / indexes the engine understands.
  // The calls below wait for the open transaction: never call them from a thread that holds
  // one (it would deadlock).
  std::vector<TableDef> Tables();
  std::vector<IndexDef> Indexes();
  // OK, or the error of the last automatic checkpoint if it failed. Automatic checkpoints run
  // at the start of the transaction after the WAL reached `wal_checkpoint_pages`; a failed one
  // is logged and retried by the next Begin, and never fails a commit. May be called while
  // the calling thread holds a transaction.
  absl::Status checkpoint_error();
  // Number of fdatasync calls on the WAL so far (group-commit statistics).
  int64_t wal_sync_calls();
  // Durations of the WAL's fdatasyncs and the commits each made durable. Lock-free; valid
  // as long as the Database.
  const WalStats& wal_stats() const { return wal_stats_; }
  // Pages currently held by the page cache.
  size_t cached_pages();
  // Committed frames in the WAL (0 right after a complete checkpoint restarted it).
  uint32_t wal_frames();

 private:
  friend class Transaction;
  friend class Iterator;
  struct IndexInfo {
    IndexDef def;
    uint32_t root = 0;
    std::vector<int> cols;  // table column per index column
    std::vector<bool> desc;
    int where_col = -1;
  };
  struct TableInfo {
    TableDef def;
    uint32_t root = 0;
    std::vector<std::string> indexes;  // names
    bool writable = true;              // false when an index on it is not understood
    std::optional<int64_t> seq;        // sqlite_sequence value (autoincrement tables)
    bool seq_dirty = false;
  };
  // Table and index definitions with their root pages. The writer edits its own; each commit
  // that changes the schema publishes a copy for read transactions.
  struct Catalog {
    std::map<std::string, TableInfo> tables;   // keyed by lower-case name
    std::map<std::string, IndexInfo> indexes;  // keyed by lower-case name
  };

  Database() = default;
  absl::Status LoadSchema();
  void AttachIndexes();
  absl::Status LoadSequences();
  // Runs the automatic checkpoint if the WAL has reached its threshold (see checkpoint_error).
  // REQUIRES: txn_mu_ held, no transaction in the pager.
  void CheckpointIfDue();
  // Makes catalog_ the one new read transactions see. REQUIRES: mu_ held.
  void PublishCatalogLocked();
  // The write conflict with `detail`, returned once the winning commit at `lsn` is durable, so
  // that a retry's snapshot includes it (instead of conflicting again until its fsync ends).
  // The fsync's error instead if it fails. REQUIRES: the writer slot not held by the caller.
  absl::Status ConflictOnceDurable(uint64_t lsn, std::string_view detail);

  mutable absl::Mutex mu_;  // protects the state below when no transaction is open
  absl::Mutex txn_mu_;      // held by the open transaction
  std::string path_;
  DatabaseOptions options_;
  std::shared_ptr<IoBackend> backend_;
  WalStats wal_stats_;  // before pager_: the WAL records into it until it closes
  std::unique_ptr<Pager> pager_;
  Catalog catalog_;                                   // the writer's
  std::shared_ptr<const Catalog> published_catalog_;  // guarded by mu_
  WriteStamps write_stamps_;                          // used with options_.mvcc only
  uint32_t sequence_root_ = 0;
  absl::Status fatal_;             // set after a failed WAL sync: the database must be reopened
  absl::Status checkpoint_error_;  // last automatic checkpoint result (guarded by mu_)
  bool closed_ = false;
};

// A transaction. Destroying an uncommitted transaction rolls it back.
// Errors from a modifying call leave the transaction usable (the call had no effect) unless
// the error is an I/O error or DataLoss, after which only Rollback is possible.
// A read transaction (Database::BeginRead) offers the reading calls; the others fail with
// FailedPrecondition. Commit and Rollback end it alike. A concurrent transaction
// (Database::BeginConcurrent with mvcc) offers every call but CreateTable and CreateIndex
// (FailedPrecondition); its Commit may fail with a write conflict, and it keeps the pages it
// modified in memory until it ends.
class Transaction {
 public:
  ~Transaction();

  // Creates a table / index (the index is filled from existing rows). AlreadyExists if the
  // name is taken; InvalidArgument for bad definitions.
  absl::Status CreateTable(const TableDef& def);
  absl::Status CreateIndex(const IndexDef& def);

  // Inserts `row`. If the table has a rowid alias column holding NULL, a rowid is allocated
  // (max(rowid)+1, or for AUTOINCREMENT tables max(seq, max(rowid))+1). Returns the rowid.
  // AlreadyExists on a duplicate rowid or UNIQUE index violation; InvalidArgument on a wrong
  // column count, a value of the wrong type, or NULL in a NOT NULL column.
  absl::StatusOr<int64_t> Insert(std::string_view table, Row row);
  // Replaces row `rowid`. NotFound if it does not exist. The rowid itself cannot change.
  absl::Status Update(std::string_view table, int64_t rowid, Row row);
  // Reads row `rowid`, lets `edit` change it in place and writes it back: the row is decoded
  // once, and nothing is written when `edit` leaves it unchanged. An error from `edit` is
  // returned as is, with nothing written. Returns false (without calling `edit`) when the row
  // does not exist. The same checks as Update apply.
  absl::StatusOr<bool> Modify(std::string_view table, int64_t rowid,
                              const std::function<absl::Status(Row&)>& edit);
  // Deletes row `rowid`; returns false if it did not exist.
  absl::StatusOr<bool> Delete(std::string_view table, int64_t rowid);
  // Reads row `rowid`.
  absl::StatusOr<std::optional<Row>> Get(std::string_view table, int64_t rowid);
  absl::StatusOr<int64_t> Count(std::string_view table);
  // Full scan in rowid order (descending when `reverse`).
  absl::StatusOr<std::unique_ptr<Iterator>> ScanTable(std::string_view table, bool reverse = false);
  // Scan in rowid order from the first row with rowid >= `first_rowid`.
  absl::StatusOr<std::unique_ptr<Iterator>> SeekTable(std::string_view table, int64_t first_rowid);
  // Ordered scan of an index within `range`.
  absl::StatusOr<std::unique_ptr<Iterator>> ScanIndex(std::string_view index,
                                                      const IndexRange& range);

  // Runs a schema script in the catalog's SQL subset (engine/catalog/script.h): CREATE TABLE
  // and CREATE INDEX (skipped when they exist and say IF NOT EXISTS) and INSERT ... VALUES.
  // Unimplemented for SQL outside the subset (nothing is run); a statement that fails stops the
  // script with the error, and the caller should roll back.
  absl::Status ExecuteScript(std::string_view sql);

  // Makes the transaction durable and reports exactly that: OK means the commit is on stable
  // storage (checkpoints run later and never fail a commit). On error nothing was committed,
  // unless the error came from the WAL fsync, after which the commit's fate is unknown and
  // the database is unusable until reopened.
  absl::Status Commit();
  void Rollback();
  // Commit, returning only once everything the transaction read is durable as well. Commit
  // alone returns at once when the transaction wrote nothing, even if it read changes of a
  // transaction whose WAL fsync is still running (Commit releases the slot before that fsync).
  // Use it when a reply depends on what was read (e.g. "that key is stored already"). A read
  // transaction sees only durable commits: for it this is Commit.
  absl::Status CommitDurable();

 private:
  friend class Database;
  friend class Iterator;
  enum class Kind { kExclusive, kRead, kConcurrent };
  // A row operation of a concurrent transaction, replayed at commit.
  struct RowOp {
    enum class Type { kInsert, kUpdate, kDelete } type;
    std::string table;
    int64_t rowid;
    Row row;  // the new row (insert, update)
  };
  // An exclusive transaction (holding the writer slot).
  explicit Transaction(Database* db);
  // A read transaction on `snapshot` with its commit's `catalog`.
  Transaction(Database* db, std::unique_ptr<SnapshotPages> snapshot,
              std::shared_ptr<const Database::Catalog> catalog);
  // A concurrent transaction on `pages` with a copy of its snapshot's catalog.
  Transaction(Database* db, std::unique_ptr<PrivatePages> pages,
              std::unique_ptr<Database::Catalog> catalog);
  // The table to read / to modify. NotFound, Unimplemented (unsupported SQL); for modifying,
  // FailedPrecondition in a read transaction, a read-only database or a table with indexes
  // the engine cannot maintain.
  absl::StatusOr<const Database::TableInfo*> ReadableTable(std::string_view name);
  absl::StatusOr<Database::TableInfo*> WritableTable(std::string_view name);
  // OK when modifying calls are allowed: open, not broken, a writing transaction on a
  // writable database.
  absl::Status CheckWritable() const;
  // CheckWritable, and FailedPrecondition unless the transaction is exclusive.
  absl::Status CheckSchemaChange() const;
  absl::StatusOr<Row> Normalize(const Database::TableInfo& t, Row row) const;
  absl::StatusOr<Row> DecodeRow(const Database::TableInfo& t, int64_t rowid,
                                std::string_view payload) const;
  // One index's entry (indexed values, then the rowid) for a row before and after a change;
  // nullopt where there is none (no row, or a partial index the row is not in).
  struct IndexEdit {
    const Database::IndexInfo* ix;
    std::optional<std::vector<Value>> before, after;
  };
  // The entries of `t`'s indexes that a change of row `rowid` from `before` to `after` (null:
  // no row) alters. Each key is built once per change; unchanged entries are left out.
  std::vector<IndexEdit> IndexEdits(const Database::TableInfo& t, const Row* before,
                                    const Row* after, int64_t rowid) const;
  // AlreadyExists when UNIQUE index `ix` holds another row with the values of `entry`.
  absl::Status CheckUnique(const Database::IndexInfo& ix, const std::vector<Value>& entry);
  // CheckUnique for every new entry of `edits`.
  absl::Status CheckUnique(const std::vector<IndexEdit>& edits);
  absl::Status AddIndexEntries(const std::vector<IndexEdit>& edits);
  absl::Status RemoveIndexEntries(const std::vector<IndexEdit>& edits);
  // Update's work once the old row is known.
  absl::Status Replace(const Database::TableInfo& t, int64_t rowid, const Row& old, Row row);
  absl::StatusOr<int64_t> AllocateRowid(Database::TableInfo* t);
  // Insert's work once the rowid is known.
  absl::StatusOr<int64_t> InsertRow(Database::TableInfo* t, int64_t rowid, Row row);
  // Concurrent transactions: a write conflict when a commit after the snapshot wrote the row
  // (Commit would fail; failing early saves the work).
  absl::Status CheckNotWrittenSince(const Database::TableInfo& t, int64_t rowid);
  // Records a row change: its key for write-conflict checks (mvcc), and for a concurrent
  // transaction the operation to replay.
  void RecordWrite(const Database::TableInfo& t, RowOp::Type type, int64_t rowid, const Row* row);
  // concurrent_commit.cc: a concurrent transaction's Commit, and the replay of its operations
  // in the exclusive transaction that commits them.
  absl::Status CommitConcurrent();
  absl::Status Replay(const std::vector<RowOp>& ops);
  // Foreign keys (foreign_keys.cc). FailedPrecondition when `row` names a missing parent (only
  // columns that differ from `old_row` are checked), or when row `rowid` of `t` has children.
  absl::Status CheckParents(const Database::TableInfo& t, const Row& row, const Row* old_row);
  absl::Status CheckNoChildren(const Database::TableInfo& t, int64_t rowid);
  absl::StatusOr<bool> HasChild(const Database::TableInfo& child, int col, int64_t parent_rowid);
  absl::Status InsertSchemaRow(const std::string& type, const std::string& name,
                               const std::string& table, uint32_t root, const std::string& sql);
  absl::Status FlushSequences();
  // Pager::Commit of a schema-changing transaction, made durable and published together with
  // the new catalog. REQUIRES: schema_changed_.
  absl::StatusOr<uint64_t> CommitSchemaChange();
  absl::Status Poison(absl::Status s);
  void End();

  Database* db_;
  Kind kind_;
  // Read transactions: the pinned snapshot and its catalog.
  std::unique_ptr<SnapshotPages> snapshot_;
  std::shared_ptr<const Database::Catalog> snapshot_catalog_;
  // Concurrent transactions: the private pages over the pinned snapshot, the catalog copy, the
  // operations to replay.
  std::unique_ptr<PrivatePages> private_pages_;
  std::unique_ptr<Database::Catalog> private_catalog_;
  std::vector<RowOp> ops_;
  // Rows written (mvcc only): checked (concurrent) and stamped (exclusive) at commit.
  std::vector<RowKey> written_;
  PageSource* pages_;                 // what reads use
  const Database::Catalog* catalog_;  // what reads use
  PageWriter* writer_;                // what writes use; null in a read transaction
  Database::Catalog* write_catalog_;  // what writes use; null in a read transaction
  bool done_ = false;
  bool schema_changed_ = false;
  absl::Status broken_;
};

}  // namespace pgqrs::engine
