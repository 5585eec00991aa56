#include "storage/postgres/pg_listener.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "spdlog/spdlog.h"

namespace pgqrs::storage::pg {
namespace {

// An idle listener pings this often, so a silently dead connection is noticed.
constexpr absl::Duration kPingInterval = absl::Seconds(10);
// Attempts at listing the queues to re-check after a reconnect.
constexpr int kRecheckAttempts = 10;

}  // namespace

PgListener::PgListener(ConnSettings settings, Redactor redactor, std::string schema,
                       PoolOptions backoff, Handler handler, QueueLister all_queues)
    : settings_(std::move(settings)),
      redactor_(std::move(redactor)),
      prefix_(absl::StrCat(schema, ".")),
      backoff_(backoff),
      handler_(std::move(handler)),
      all_queues_(std::move(all_queues)) {
  stop_fd_ = eventfd(0, EFD_CLOEXEC);
  PGQRS_CHECK(stop_fd_ >= 0);
  thread_ = std::thread([this] { Run(); });
}

PgListener::~PgListener() {
  uint64_t one = 1;
  PGQRS_CHECK(write(stop_fd_, &one, sizeof(one)) == sizeof(one));
  thread_.join();
  close(stop_fd_);
}

bool PgListener::SleepUnlessStopped(absl::Duration d) {
  pollfd fd{stop_fd_, POLLIN, 0};
  return poll(&fd, 1, static_cast<int>(absl::ToInt64Milliseconds(d))) == 0;
}

void PgListener::Run() {
  ConnSettings settings = settings_;
  settings.application_name = kListenerApplicationName;
  int failures = 0;
  while (true) {
    absl::StatusOr<std::unique_ptr<PgConn>> conn = PgConn::Connect(settings, redactor_);
    absl::Status status = conn.ok() ? (*conn)->Exec(absl::StrCat("LISTEN ", kWakeChannel))
                                    : conn.status();
    if (!status.ok()) {
      ++failures;
      // The message is already redacted by PgConn.
      spdlog::warn("postgres wake listener: {}", std::string(status.message()));
      if (!SleepUnlessStopped(Backoff(backoff_, failures))) return;
      continue;
    }
    bool first = connects_.fetch_add(1) == 0 && failures == 0;
    failures = 0;
    // Anything enqueued while no LISTEN was active would otherwise go unnoticed.
    if (!first) RecheckAll();
    if (!Listen(**conn)) return;
    failures = 1;
  }
}

bool PgListener::Listen(PgConn& conn) {
  PGconn* raw = conn.raw();
  absl::Time last_ping = absl::Now();
  while (true) {
    pollfd fds[2] = {{PQsocket(raw), POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    int ready = poll(fds, 2, static_cast<int>(absl::ToInt64Milliseconds(kPingInterval)));
    if (ready < 0 && errno != EINTR) return true;
    if (fds[1].revents != 0) return false;
    if (fds[0].revents != 0 && PQconsumeInput(raw) == 0) {
      spdlog::warn("postgres wake listener lost its connection; reconnecting");
      return true;
    }
    Drain(raw);
    if (absl::Now() - last_ping >= kPingInterval) {
      // A silently dead connection only shows when we write to it.
      last_ping = absl::Now();
      if (!conn.Exec("SELECT 1").ok()) return true;
      Drain(raw);
    }
    if (conn.broken()) return true;
  }
}

void PgListener::Drain(PGconn* raw) {
  while (PGnotify* note = PQnotifies(raw)) {
    std::string payload = note->extra != nullptr ? note->extra : "";
    PQfreemem(note);
    Dispatch(payload);
  }
}

void PgListener::Dispatch(const std::string& payload) {
  if (!absl::StartsWith(payload, prefix_)) return;  // another schema's queue
  handler_(payload.substr(prefix_.size()));
}

void PgListener::RecheckAll() {
  // Right after a server restart the pool may still be reconnecting: retry a while.
  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<std::vector<std::string>> queues = all_queues_();
    if (queues.ok()) {
      for (const std::string& queue : *queues) handler_(queue);
      return;
    }
    if (attempt == kRecheckAttempts) {
      spdlog::warn("postgres wake listener: listing queues to re-check failed: {}",
                   std::string(queues.status().message()));
      // The server's reapers re-check parked long-polls periodically: the safety net.
      return;
    }
    if (!SleepUnlessStopped(Backoff(backoff_, attempt))) return;
  }
}

}  // namespace pgqrs::storage::pg
