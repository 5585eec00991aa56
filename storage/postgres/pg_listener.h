// The LISTEN side of cross-daemon wake-ups: a thread with its own connection that runs
// `LISTEN pgqrs_wake` and calls the handler with the queue of every notification sent for
// its schema (payload "<schema>.<queue>").
//
// When the connection fails it reconnects with capped, jittered backoff; after every
// reconnect it calls the handler once for each queue, since notifications sent while it
// was away are lost. The destructor stops and joins the thread.
//
// Thread safety: constructed and destroyed by one thread; the handler runs on the
// listener thread.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/postgres/pg_conn.h"
#include "storage/postgres/pg_pool.h"

namespace pgqrs::storage::pg {

inline constexpr char kWakeChannel[] = "pgqrs_wake";
inline constexpr char kListenerApplicationName[] = "pgqrsd-listener";

class PgListener {
 public:
  using Handler = std::function<void(const std::string& queue)>;
  using QueueLister = std::function<absl::StatusOr<std::vector<std::string>>()>;

  PgListener(ConnSettings settings, Redactor redactor, std::string schema,
             PoolOptions backoff, Handler handler, QueueLister all_queues);
  ~PgListener();
  PgListener(const PgListener&) = delete;
  PgListener& operator=(const PgListener&) = delete;

  // Times the connection was (re)established; for tests and metrics.
  int64_t connects() const { return connects_.load(); }

 private:
  void Run();
  // Listens on `conn` until it fails or Stop; returns false when stopping.
  bool Listen(PgConn& conn);
  // Hands every received notification to Dispatch.
  void Drain(PGconn* raw);
  void Dispatch(const std::string& payload);
  void RecheckAll();
  // Sleeps up to `d`; returns false when stopping.
  bool SleepUnlessStopped(absl::Duration d);

  const ConnSettings settings_;
  const Redactor redactor_;
  const std::string prefix_;  // "<schema>."
  const PoolOptions backoff_;
  const Handler handler_;
  const QueueLister all_queues_;
  int stop_fd_ = -1;  // eventfd, written by the destructor
  std::atomic<int64_t> connects_{0};
  std::thread thread_;
};

}  // namespace pgqrs::storage::pg
