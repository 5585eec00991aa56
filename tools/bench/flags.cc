#include "tools/bench/flags.h"

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(std::string, scenario, "lifecycle", "enqueue, lifecycle, longpoll or drain");
ABSL_FLAG(int32_t, producers, 4, "producer threads (P)");
ABSL_FLAG(int32_t, consumers, 4, "consumer threads (C)");
ABSL_FLAG(int32_t, batch, 1, "messages per Enqueue, and the most one Dequeue asks for (B)");
ABSL_FLAG(int32_t, window, 16,
          "calls each producer and consumer keeps in flight on a target that pipelines "
          "(pgqrs-stream); the others wait for every answer");
ABSL_FLAG(int32_t, payload, 100, "message body size in bytes (S)");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(2), "unmeasured warm-up, e.g. 2s");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10),
          "measured phase length (a safety limit when --messages is set)");
ABSL_FLAG(int64_t, messages, 0, "end the measured phase after this many messages; 0: by time");
ABSL_FLAG(uint64_t, seed, 1, "seed for payload filler and per-thread generators");
ABSL_FLAG(absl::Duration, wait, absl::Seconds(1), "how long one Dequeue long-polls");
ABSL_FLAG(int64_t, max_backlog, 0,
          "lifecycle: producers pause above this many unacked messages; 0: "
          "2 * batch * window * max(producers, consumers)");
ABSL_FLAG(int64_t, preload, 10000, "drain: messages loaded before the consumers start (M)");
ABSL_FLAG(int64_t, pending, 0,
          "lifecycle: messages enqueued before the run and left pending, so each dequeue "
          "works against a queue this deep");
ABSL_FLAG(bool, progress, true, "progress line on stderr when it is a terminal");

namespace pgqrs::bench {

absl::Status ParseFlags(int argc, char** argv, const std::string& usage) {
  absl::SetProgramUsageMessage(usage);
  std::vector<std::string> args;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (i > 0 && arg.rfind("--", 0) == 0) {
      size_t end = std::min(arg.find('='), arg.size());
      for (size_t c = 2; c < end; ++c) {
        if (arg[c] == '-') arg[c] = '_';
      }
    }
    args.push_back(std::move(arg));
  }
  std::vector<char*> raw;
  for (std::string& a : args) raw.push_back(a.data());
  std::vector<char*> rest = absl::ParseCommandLine(static_cast<int>(raw.size()), raw.data());
  if (rest.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", rest[1], "\""));
  }
  return absl::OkStatus();
}

absl::StatusOr<WorkloadOptions> WorkloadOptionsFromFlags() {
  WorkloadOptions o;
  std::string scenario = absl::GetFlag(FLAGS_scenario);
  if (!ParseScenario(scenario, &o.scenario)) {
    return absl::InvalidArgumentError(absl::StrCat("--scenario=", scenario, ": unknown"));
  }
  o.producers = absl::GetFlag(FLAGS_producers);
  o.consumers = absl::GetFlag(FLAGS_consumers);
  o.batch = absl::GetFlag(FLAGS_batch);
  o.window = absl::GetFlag(FLAGS_window);
  o.payload_bytes = absl::GetFlag(FLAGS_payload);
  o.warmup = absl::GetFlag(FLAGS_warmup);
  o.duration = absl::GetFlag(FLAGS_duration);
  o.messages = absl::GetFlag(FLAGS_messages);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.dequeue_wait = absl::GetFlag(FLAGS_wait);
  o.max_backlog = absl::GetFlag(FLAGS_max_backlog);
  o.preload = absl::GetFlag(FLAGS_preload);
  o.pending = absl::GetFlag(FLAGS_pending);
  o.progress = absl::GetFlag(FLAGS_progress);
  for (auto [flag, value] :
       std::initializer_list<std::pair<const char*, int64_t>>{{"producers", o.producers},
                                                              {"consumers", o.consumers},
                                                              {"batch", o.batch},
                                                              {"window", o.window},
                                                              {"payload", o.payload_bytes},
                                                              {"preload", o.preload}}) {
    if (value < 1) return absl::InvalidArgumentError(absl::StrCat("--", flag, ": must be >= 1"));
  }
  if (o.duration <= absl::ZeroDuration() || o.warmup < absl::ZeroDuration() || o.messages < 0 ||
      o.max_backlog < 0 || o.dequeue_wait < absl::ZeroDuration() || o.pending < 0) {
    return absl::InvalidArgumentError(
        "--duration must be positive; --warmup, --wait, --messages, --max_backlog, --pending "
        "not negative");
  }
  return o;
}

}  // namespace pgqrs::bench
