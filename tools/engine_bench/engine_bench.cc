// Queue-workload benchmark: the engine vs libsqlite3 at equal durability.
//
// Both run the same schema (a messages table with AUTOINCREMENT ids and three secondary
// indexes, one with a DESC column) and the same operation mix, each in a forked child so peak
// RSS is measured per implementation:
//   insert  : insert one row (+3 index entries)
//   claim   : seek the lowest key of the claim index for a queue, update that row
//   delete  : delete a row by rowid
// at batch 1 and batch 100 rows per transaction (--batches=1,100; batch 1 runs --ops operations
// per phase, larger batches 10x as many). libsqlite3 uses prepared statements,
// journal_mode=WAL and synchronous=FULL; the engine fsyncs the WAL on every commit. Each phase
// reports operations per second and the child's CPU time per operation (all its threads).
//
//   bazel run -c opt //tools/engine_bench -- --dir=/tmp/bench --ops=1000 --preload=20000
// With --encrypt_key_env=VAR the second column is the engine encrypted with the key in VAR
// (64 hex digits) instead of sqlite3, to measure the cost of encryption at rest.
#include <malloc.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "engine/crypto/key.h"
#include "engine/db/database.h"
#include "tools/engine_bench/bench_args.h"

namespace {

using pgqrs::engine_bench::Check;
using pgqrs::engine_bench::Die;

using pgqrs::engine::Database;
using pgqrs::engine::DatabaseOptions;
using pgqrs::engine::IndexBound;
using pgqrs::engine::IndexRange;
using pgqrs::engine::Row;
using pgqrs::engine::Transaction;
using pgqrs::engine::Value;

struct Config {
  std::string dir = "/tmp/engine_bench";
  int ops = 1000;       // rows per phase at batch 1; batch 100 runs ops * 10
  int preload = 20000;  // rows inserted (unmeasured) before the phases
  size_t cache_pages = 2000;
  std::string io = "auto";
  int rounds = 3;                       // engine and sqlite alternate; the median round is reported
  std::vector<int> batches = {1, 100};  // rows per transaction; each batch size is a phase set
  // When set, compare the plain engine with the engine encrypted under the key in this
  // environment variable, instead of the engine with sqlite3.
  std::string encrypt_key_env;
};

constexpr int kQueues = 10;
constexpr int kPayload = 100;

// The operations each implementation provides; every call is one transaction of `rows` rows.
class Impl {
 public:
  virtual ~Impl() = default;
  virtual void Insert(int rows, std::mt19937_64* rng, std::vector<int64_t>* ids) = 0;
  virtual void Claim(int rows, std::mt19937_64* rng) = 0;
  virtual void Delete(const std::vector<int64_t>& ids) = 0;
};

class EngineImpl final : public Impl {
 public:
  EngineImpl(const std::string& path, const Config& cfg, bool encrypted) {
    DatabaseOptions o;
    o.cache_pages = cfg.cache_pages;
    if (encrypted) {
      auto key = pgqrs::engine::EncryptionKey::FromEnv(cfg.encrypt_key_env);
      Check(key.status(), "key");
      o.key = *key;
    }
    if (cfg.io == "uring") o.io = pgqrs::engine::IoBackendKind::kUring;
    if (cfg.io == "posix") o.io = pgqrs::engine::IoBackendKind::kPosix;
    auto db = Database::Open(path, o);
    Check(db.status(), "open");
    db_ = std::move(*db);
    std::fprintf(stderr, "engine backend: %s\n", db_->backend_name().c_str());
    auto txn = Begin();
    pgqrs::engine::TableDef t;
    t.name = "messages";
    using pgqrs::engine::ColumnType;
    t.columns = {{"id", ColumnType::kInteger, false},   {"queue_id", ColumnType::kInteger, true},
                 {"state", ColumnType::kInteger, true}, {"priority", ColumnType::kInteger, true},
                 {"vt", ColumnType::kInteger, true},    {"payload", ColumnType::kBlob, false}};
    t.rowid_column = 0;
    t.autoincrement = true;
    Check(txn->CreateTable(t), "create table");
    using pgqrs::engine::PartialPredicate;
    Check(txn->CreateIndex({"messages_claim",
                            "messages",
                            false,
                            {{"queue_id", false},
                             {"state", false},
                             {"priority", true},
                             {"vt", false},
                             {"id", false}},
                            PartialPredicate::kNone,
                            ""}),
          "index");
    Check(txn->CreateIndex(
              {"messages_vt", "messages", false, {{"vt", false}}, PartialPredicate::kNone, ""}),
          "index");
    Check(txn->CreateIndex({"messages_state",
                            "messages",
                            false,
                            {{"state", false}, {"id", false}},
                            PartialPredicate::kNone,
                            ""}),
          "index");
    Check(txn->Commit(), "commit");
  }
  ~EngineImpl() override { Check(db_->Close(), "close"); }

  void Insert(int rows, std::mt19937_64* rng, std::vector<int64_t>* ids) override {
    auto txn = Begin();
    for (int i = 0; i < rows; ++i) {
      Row r = {Value::Null(),
               Value::Integer((*rng)() % kQueues),
               Value::Integer(0),
               Value::Integer((*rng)() % 5),
               Value::Integer(1000000 + (*rng)() % 1000),
               Value::Blob(std::string(kPayload, 'p'))};
      auto id = txn->Insert("messages", std::move(r));
      Check(id.status(), "insert");
      ids->push_back(*id);
    }
    Check(txn->Commit(), "commit");
  }

  void Claim(int rows, std::mt19937_64* rng) override {
    auto txn = Begin();
    for (int i = 0; i < rows; ++i) {
      int64_t q = (*rng)() % kQueues;
      IndexRange range;
      range.lower = IndexBound{{Value::Integer(q), Value::Integer(0)}, true};
      range.upper = range.lower;
      auto it = txn->ScanIndex("messages_claim", range);
      Check(it.status(), "scan");
      if (!(*it)->Valid()) continue;
      auto row = (*it)->row();
      Check(row.status(), "row");
      (*row)[2] = Value::Integer(1);
      (*row)[4] = Value::Integer((*row)[4].integer() + 30);
      Check(txn->Update("messages", (*it)->rowid(), std::move(*row)), "update");
    }
    Check(txn->Commit(), "commit");
  }

  void Delete(const std::vector<int64_t>& ids) override {
    auto txn = Begin();
    for (int64_t id : ids) Check(txn->Delete("messages", id).status(), "delete");
    Check(txn->Commit(), "commit");
  }

 private:
  std::unique_ptr<Transaction> Begin() {
    auto txn = db_->Begin();
    Check(txn.status(), "begin");
    return std::move(*txn);
  }
  std::unique_ptr<Database> db_;
};

class SqliteImpl final : public Impl {
 public:
  explicit SqliteImpl(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) Die("sqlite3_open");
    Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
    Exec(
        "CREATE TABLE messages(id INTEGER PRIMARY KEY AUTOINCREMENT, queue_id INTEGER NOT NULL, "
        "state INTEGER NOT NULL, priority INTEGER NOT NULL, vt INTEGER NOT NULL, payload BLOB);"
        "CREATE INDEX messages_claim ON messages(queue_id, state, priority DESC, vt, id);"
        "CREATE INDEX messages_vt ON messages(vt);"
        "CREATE INDEX messages_state ON messages(state, id);");
    insert_ =
        Prepare("INSERT INTO messages(queue_id, state, priority, vt, payload) VALUES(?,0,?,?,?)");
    pick_ = Prepare(
        "SELECT id, vt FROM messages WHERE queue_id=? AND state=0 "
        "ORDER BY priority DESC, vt, id LIMIT 1");
    update_ = Prepare("UPDATE messages SET state=1, vt=? WHERE id=?");
    delete_ = Prepare("DELETE FROM messages WHERE id=?");
    begin_ = Prepare("BEGIN");
    commit_ = Prepare("COMMIT");
  }
  ~SqliteImpl() override {
    for (sqlite3_stmt* s : {insert_, pick_, update_, delete_, begin_, commit_}) sqlite3_finalize(s);
    sqlite3_close(db_);
  }

  void Insert(int rows, std::mt19937_64* rng, std::vector<int64_t>* ids) override {
    Step(begin_);
    std::string payload(kPayload, 'p');
    for (int i = 0; i < rows; ++i) {
      sqlite3_bind_int64(insert_, 1, static_cast<int64_t>((*rng)() % kQueues));
      sqlite3_bind_int64(insert_, 2, static_cast<int64_t>((*rng)() % 5));
      sqlite3_bind_int64(insert_, 3, static_cast<int64_t>(1000000 + (*rng)() % 1000));
      sqlite3_bind_blob(insert_, 4, payload.data(), kPayload, SQLITE_STATIC);
      Step(insert_);
      ids->push_back(sqlite3_last_insert_rowid(db_));
    }
    Step(commit_);
  }

  void Claim(int rows, std::mt19937_64* rng) override {
    Step(begin_);
    for (int i = 0; i < rows; ++i) {
      sqlite3_bind_int64(pick_, 1, static_cast<int64_t>((*rng)() % kQueues));
      if (sqlite3_step(pick_) != SQLITE_ROW) {
        sqlite3_reset(pick_);
        continue;
      }
      int64_t id = sqlite3_column_int64(pick_, 0), vt = sqlite3_column_int64(pick_, 1);
      sqlite3_reset(pick_);
      sqlite3_bind_int64(update_, 1, vt + 30);
      sqlite3_bind_int64(update_, 2, id);
      Step(update_);
    }
    Step(commit_);
  }

  void Delete(const std::vector<int64_t>& ids) override {
    Step(begin_);
    for (int64_t id : ids) {
      sqlite3_bind_int64(delete_, 1, id);
      Step(delete_);
    }
    Step(commit_);
  }

 private:
  void Exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) Die(err ? err : sql);
  }
  sqlite3_stmt* Prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &s, nullptr) != SQLITE_OK) Die(sqlite3_errmsg(db_));
    return s;
  }
  void Step(sqlite3_stmt* s) {
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) Die(sqlite3_errmsg(db_));
    sqlite3_reset(s);
  }
  sqlite3* db_ = nullptr;
  sqlite3_stmt *insert_, *pick_, *update_, *delete_, *begin_, *commit_;
};

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double CpuSeconds(const struct rusage& ru) {
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// CPU time of this process so far (all threads, io_uring workers included).
double ProcessCpuSeconds() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return CpuSeconds(ru);
}

// Times one phase of `ops` operations: records ops per second under "op/batch" and CPU
// microseconds per operation under "cpu:op/batch".
class PhaseTimer {
 public:
  PhaseTimer(std::map<std::string, double>* out, std::string key, int ops)
      : out_(out), key_(std::move(key)), ops_(ops), cpu0_(ProcessCpuSeconds()) {}
  ~PhaseTimer() {
    (*out_)[key_] = ops_ / Seconds(t0_);
    (*out_)["cpu:" + key_] = (ProcessCpuSeconds() - cpu0_) * 1e6 / ops_;
  }

 private:
  std::map<std::string, double>* out_;
  std::string key_;
  int ops_;
  double cpu0_;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
};

// Runs all phases on one implementation; returns "op/batch" -> ops per second.
std::map<std::string, double> Run(const std::string& impl, const Config& cfg) {
  std::map<std::string, double> out;
  for (int batch : cfg.batches) {
    std::string path = cfg.dir + "/" + impl + "_b" + std::to_string(batch) + ".db";
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
    std::unique_ptr<Impl> db;
    if (impl == "engine" || impl == "encrypted") {
      db = std::make_unique<EngineImpl>(path, cfg, impl == "encrypted");
    } else {
      db = std::make_unique<SqliteImpl>(path);
    }
    std::mt19937_64 rng(42);
    std::vector<int64_t> preload;
    // Preload in 100-row transactions: the engine pins a transaction's dirty pages, so this
    // keeps the peak RSS comparable to the measured phases (batch <= 100).
    for (int done = 0; done < cfg.preload; done += 100) db->Insert(100, &rng, &preload);
    const int ops = batch == 1 ? cfg.ops : cfg.ops * 10;
    const int txns = ops / batch;
    std::vector<int64_t> ids;
    const std::string b = "/" + std::to_string(batch);
    {
      PhaseTimer timer(&out, "insert" + b, ops);
      for (int t = 0; t < txns; ++t) db->Insert(batch, &rng, &ids);
    }
    {
      PhaseTimer timer(&out, "claim" + b, ops);
      for (int t = 0; t < txns; ++t) db->Claim(batch, &rng);
    }
    std::shuffle(ids.begin(), ids.end(), rng);
    {
      PhaseTimer timer(&out, "delete" + b, ops);
      for (int t = 0; t < txns; ++t) {
        db->Delete(std::vector<int64_t>(ids.begin() + t * batch, ids.begin() + (t + 1) * batch));
      }
    }
  }
  struct mallinfo2 mi = mallinfo2();
  std::fprintf(stderr, "%s: heap arena %.1f MiB, in use %.1f MiB at exit\n", impl.c_str(),
               mi.arena / 1048576.0, mi.uordblks / 1048576.0);
  return out;
}

// Runs `impl` in a child process; returns its results, peak RSS in KiB and CPU seconds.
std::map<std::string, double> RunChild(const std::string& impl, const Config& cfg, long* rss_kib,
                                       double* cpu_seconds) {
  int fds[2];
  if (pipe(fds) != 0) Die("pipe");
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    std::string text;
    for (const auto& [k, v] : Run(impl, cfg)) text += k + " " + std::to_string(v) + "\n";
    if (write(fds[1], text.data(), text.size()) != static_cast<ssize_t>(text.size())) _exit(3);
    _exit(0);
  }
  close(fds[1]);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) text.append(buf, n);
  close(fds[0]);
  int status = 0;
  struct rusage ru;
  wait4(pid, &status, 0, &ru);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) Die(impl + " child failed");
  *rss_kib = ru.ru_maxrss;
  *cpu_seconds = CpuSeconds(ru);
  std::map<std::string, double> out;
  char key[64];
  double v;
  for (const char* p = text.c_str(); std::sscanf(p, "%63s %lf", key, &v) == 2;) {
    out[key] = v;
    p = std::strchr(p, '\n');
    if (p == nullptr) break;
    ++p;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&](const char* flag) -> const char* {
      size_t n = std::strlen(flag);
      return a.compare(0, n, flag) == 0 ? argv[i] + n : nullptr;
    };
    if (const char* v = val("--dir=")) {
      cfg.dir = v;
    } else if (const char* v = val("--ops=")) {
      cfg.ops = std::atoi(v);
    } else if (const char* v = val("--preload=")) {
      cfg.preload = std::atoi(v);
    } else if (const char* v = val("--cache_pages=")) {
      cfg.cache_pages = std::strtoul(v, nullptr, 10);
    } else if (const char* v = val("--io=")) {
      cfg.io = v;
    } else if (const char* v = val("--rounds=")) {
      cfg.rounds = std::max(1, std::atoi(v));
    } else if (const char* v = val("--encrypt_key_env=")) {
      cfg.encrypt_key_env = v;
    } else if (const char* v = val("--batches=")) {
      cfg.batches.clear();
      for (const char* p = v; *p != '\0';) {
        char* end = nullptr;
        const long batch = std::strtol(p, &end, 10);
        if (end == p || batch < 1 || (*end != ',' && *end != '\0')) Die("bad --batches");
        cfg.batches.push_back(static_cast<int>(batch));
        p = *end == ',' ? end + 1 : end;
      }
    } else {
      Die("unknown flag " + a +
          " (flags: --dir --ops --preload --cache_pages --io --rounds --encrypt_key_env "
          "--batches)");
    }
  }
  std::filesystem::create_directories(cfg.dir);
  // The implementation compared with the plain engine (column "sqlite" or "encrypted").
  const std::string other = cfg.encrypt_key_env.empty() ? "sqlite" : "encrypted";
  long engine_rss = 0, sqlite_rss = 0;
  std::map<std::string, std::vector<double>> engine, sqlite;
  for (int r = 0; r < cfg.rounds; ++r) {
    long rss = 0;
    double load = pgqrs::engine_bench::LoadAverage(), engine_cpu = 0, other_cpu = 0;
    for (const auto& [k, v] : RunChild("engine", cfg, &rss, &engine_cpu)) engine[k].push_back(v);
    engine_rss = std::max(engine_rss, rss);
    for (const auto& [k, v] : RunChild(other, cfg, &rss, &other_cpu)) sqlite[k].push_back(v);
    sqlite_rss = std::max(sqlite_rss, rss);
    // CPU time is less sensitive than wall time to other load on a shared machine.
    std::printf("round %d: load %.2f, child cpu: engine %.2f s, %s %.2f s\n", r + 1, load,
                engine_cpu, other.c_str(), other_cpu);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  // Both ratios are above 1 when the other implementation is slower.
  std::printf(
      "median of %d alternating rounds: ops per second (ratio engine / %s), CPU us per "
      "op (ratio %s / engine)\n",
      cfg.rounds, other.c_str(), other.c_str());
  std::printf("%-8s %6s %14s %14s %8s %10s %10s %8s\n", "op", "batch", "engine ops/s",
              (other + " ops/s").c_str(), "ratio", "engine cpu", (other + " cpu").c_str(), "ratio");
  for (const char* op : {"insert", "claim", "delete"}) {
    for (int batch : cfg.batches) {
      std::string k = std::string(op) + "/" + std::to_string(batch);
      double e = median(engine[k]), q = median(sqlite[k]);
      double ec = median(engine["cpu:" + k]), qc = median(sqlite["cpu:" + k]);
      std::printf("%-8s %6d %14.0f %14.0f %8.2f %10.1f %10.1f %8.2f\n", op, batch, e, q, e / q, ec,
                  qc, qc / ec);
    }
  }
  std::printf("peak RSS: engine %.1f MiB (page cache %zu pages = %.1f MiB), %s %.1f MiB\n",
              engine_rss / 1024.0, cfg.cache_pages, cfg.cache_pages * 4096 / 1048576.0,
              other.c_str(), sqlite_rss / 1024.0);
  return 0;
}
