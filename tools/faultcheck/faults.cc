#include "tools/faultcheck/faults.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace pgqrs::faultcheck {
namespace {

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

FaultInjector::FaultInjector(std::vector<DaemonProcess*> daemons, HistoryWriter* history,
                             FaultOptions options)
    : daemons_(std::move(daemons)),
      history_(history),
      options_(std::move(options)),
      rng_(options_.seed) {}

absl::Status FaultInjector::Run(absl::Time until) {
  if (options_.kinds.empty()) return absl::OkStatus();
  size_t turn = std::uniform_int_distribution<size_t>(0, options_.kinds.size() - 1)(rng_);
  while (true) {
    int64_t gap_us =
        std::uniform_int_distribution<int64_t>(absl::ToInt64Microseconds(options_.min_gap),
                                               absl::ToInt64Microseconds(options_.max_gap))(rng_);
    if (absl::Now() + absl::Microseconds(gap_us) >= until) return absl::OkStatus();
    absl::SleepFor(absl::Microseconds(gap_us));
    const std::string& kind = options_.kinds[turn++ % options_.kinds.size()];
    if (absl::Status s = Inject(kind); !s.ok()) return s;
  }
}

absl::Status FaultInjector::Inject(const std::string& kind) {
  size_t daemon = std::uniform_int_distribution<size_t>(0, daemons_.size() - 1)(rng_);
  Event event = {{"op", "fault"}, {"kind", kind}, {"start", NowMicros()}};
  absl::Status status;
  if (kind == "kill") {
    event["daemon"] = daemon;
    status = KillAndRestart(daemon);
  } else if (kind == "pause") {
    event["daemon"] = daemon;
    PauseAndResume(daemon);
  } else if (kind == "pg_restart") {
    status = RestartPostgres();
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown fault kind ", kind));
  }
  event["end"] = NowMicros();
  if (!status.ok()) event["error"] = status.ToString();
  history_->Append(std::move(event));
  return status;
}

absl::Status FaultInjector::KillAndRestart(size_t daemon) {
  daemons_[daemon]->Kill();
  absl::SleepFor(absl::Milliseconds(std::uniform_int_distribution<int>(50, 500)(rng_)));
  return daemons_[daemon]->Start();
}

void FaultInjector::PauseAndResume(size_t daemon) {
  daemons_[daemon]->Pause();
  absl::SleepFor(options_.pause);
  daemons_[daemon]->Resume();
}

absl::Status FaultInjector::RestartPostgres() {
  std::string command = absl::StrCat(ShellQuote(options_.pg_cluster_script), " restart-pg ",
                                     ShellQuote(options_.pg_dir), " >&2");
  int status = std::system(command.c_str());
  if (status != 0) {
    return absl::UnavailableError(absl::StrCat("cluster.sh restart-pg exited with ", status));
  }
  return absl::OkStatus();
}

}  // namespace pgqrs::faultcheck
