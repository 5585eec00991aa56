#include "tools/faultcheck/run.h"

#include <iostream>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tools/faultcheck/caller.h"
#include "tools/faultcheck/daemons.h"
#include "tools/faultcheck/drain.h"
#include "tools/faultcheck/history.h"

namespace pgqrs::faultcheck {
namespace {

std::vector<std::unique_ptr<DaemonProcess>> MakeDaemons(const RunOptions& o) {
  std::vector<std::unique_ptr<DaemonProcess>> daemons;
  for (int i = 0; i < o.daemons; ++i) {
    daemons.push_back(std::make_unique<DaemonProcess>(
        o.pgqrsd, o.dsn,
        std::vector<std::string>{"--visibility_reaper_interval_ms=200",
                                 "--heartbeat_reaper_interval_ms=1000"},
        absl::StrCat(o.workdir, "/pgqrsd-", i, ".log")));
  }
  return daemons;
}

// Faults, then the drain and the final reads. Errors here (a daemon that does not come
// back, a drain that does not finish) are findings, reported with the verdict.
std::vector<Violation> Exercise(const RunOptions& o, std::vector<DaemonProcess*> daemons,
                                Workload& workload, const std::shared_ptr<grpc::Channel>& reader,
                                HistoryWriter* history) {
  std::vector<Violation> errors;
  auto note = [&](const absl::Status& s) {
    if (!s.ok()) errors.push_back({"run_error", std::string(s.message()), {}});
  };
  workload.Start();
  FaultInjector injector(daemons, history, o.faults);
  absl::Status injected = injector.Run(absl::Now() + o.duration);
  note(injected);
  std::cerr << "faultcheck: faults over, draining\n";
  workload.BeginDrain();
  if (injected.ok()) note(WaitDrained(reader, o.drain_timeout));
  workload.Stop();
  if (injected.ok()) note(RecordFinalStates(reader, history));
  return errors;
}

}  // namespace

int RunFaultcheck(const RunOptions& o) {
  std::cerr << "faultcheck: store " << o.store << ", " << o.daemons << " daemon(s), seed " << o.seed
            << ", history " << o.history_path << "\n";
  absl::StatusOr<std::unique_ptr<HistoryWriter>> history = HistoryWriter::Open(o.history_path);
  if (!history.ok()) {
    std::cerr << "faultcheck: " << history.status().message() << "\n";
    return 2;
  }
  std::vector<std::unique_ptr<DaemonProcess>> daemons = MakeDaemons(o);
  std::vector<std::string> addresses;
  std::vector<DaemonProcess*> handles;
  for (auto& d : daemons) {
    if (absl::Status s = d->Start(); !s.ok()) {
      std::cerr << "faultcheck: " << s.message() << "\n";
      return 2;
    }
    addresses.push_back(d->address());
    handles.push_back(d.get());
  }
  std::vector<std::shared_ptr<grpc::Channel>> channels = MakeChannels(addresses);
  Workload workload(channels, history->get(), o.workload);
  if (absl::Status s = workload.Setup(); !s.ok()) {
    std::cerr << "faultcheck: " << s.message() << "\n";
    return 2;
  }
  std::vector<Violation> errors = Exercise(o, handles, workload, channels.front(), history->get());
  for (auto& d : daemons) d->Terminate();

  History events = (*history)->Snapshot();
  CheckResult result = CheckHistory(events, {o.clock_margin_us, o.required_faults});
  result.violations.insert(result.violations.begin(), errors.begin(), errors.end());
  std::cout << FormatReport(result, events) << std::flush;
  return result.ok() ? 0 : 1;
}

}  // namespace pgqrs::faultcheck
