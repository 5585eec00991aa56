#include "tools/bench/report.h"

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace pgqrs::bench {
namespace {

double Micros(int64_t nanos) { return static_cast<double>(nanos) / 1000.0; }

nlohmann::json LatencyJson(const Histogram& h) {
  return {{"count", h.count()},
          {"p50", Micros(h.Percentile(0.50))},
          {"p90", Micros(h.Percentile(0.90))},
          {"p99", Micros(h.Percentile(0.99))},
          {"max", Micros(h.max())}};
}

std::string Ms(int64_t nanos) { return absl::StrFormat("%.3f", static_cast<double>(nanos) / 1e6); }

std::string LatencyRow(const std::string& name, const Histogram& h) {
  return absl::StrFormat("  %-16s %10d %10s %10s %10s %10s\n", name, h.count(),
                         Ms(h.Percentile(0.50)), Ms(h.Percentile(0.90)), Ms(h.Percentile(0.99)),
                         Ms(h.max()));
}

}  // namespace

double RunResult::throughput() const {
  double seconds = absl::ToDoubleSeconds(elapsed);
  return seconds > 0 ? static_cast<double>(messages) / seconds : 0;
}

void RunResult::CountError(const absl::Status& status) {
  ++errors[absl::StatusCodeToString(status.code())];
}

std::string ToJsonLine(const RunResult& r) {
  const WorkloadOptions& o = r.options;
  nlohmann::json calls = nlohmann::json::object();
  for (const auto& [name, h] : r.calls) calls[name] = LatencyJson(h);
  nlohmann::json j = {
      {"tool", r.tool},
      {"scenario", ScenarioName(o.scenario)},
      {"target", r.target},
      {"server", r.server},
      {"producers", o.producers},
      {"consumers", o.consumers},
      {"batch", o.batch},
      {"window", o.window},
      {"pending", o.pending},
      {"payload_bytes", o.payload_bytes},
      {"seed", o.seed},
      {"warmup_s", absl::ToDoubleSeconds(o.warmup)},
      {"elapsed_s", absl::ToDoubleSeconds(r.elapsed)},
      {"messages", r.messages},
      {"throughput", r.throughput()},
      {"latency_kind", r.latency_name},
      {"latency_us", LatencyJson(r.latency)},
      {"calls", calls},
      {"errors", r.errors},
      {"client_cpu_s", r.client_cpu_seconds},
      {"client_cpu_cores", r.client_cpu_seconds / std::max(1e-9, absl::ToDoubleSeconds(r.elapsed))},
  };
  for (const auto& [key, value] : r.extra.items()) j[key] = value;
  return j.dump();
}

std::string ToTable(const RunResult& r) {
  const WorkloadOptions& o = r.options;
  std::string out = absl::StrFormat("%s %s against %s (%s)\n", r.tool, ScenarioName(o.scenario),
                                    r.target, r.server);
  if (o.scenario == Scenario::kLongPoll) {
    absl::StrAppendFormat(&out, "  payload %d B, seed %d, wakes measured over %.1f s\n",
                          o.payload_bytes, o.seed, absl::ToDoubleSeconds(r.elapsed));
  } else {
    absl::StrAppendFormat(&out,
                          "  producers %d, consumers %d, batch %d, window %d, payload %d B, "
                          "seed %d, %.1f s measured after %.1f s warm-up\n",
                          o.producers, o.consumers, o.batch, o.window, o.payload_bytes, o.seed,
                          absl::ToDoubleSeconds(r.elapsed), absl::ToDoubleSeconds(o.warmup));
  }
  absl::StrAppendFormat(&out, "  throughput %.0f messages/s (%d messages)\n", r.throughput(),
                        r.messages);
  absl::StrAppendFormat(&out, "  %-16s %10s %10s %10s %10s %10s\n", "latency (ms)", "count", "p50",
                        "p90", "p99", "max");
  out += LatencyRow(r.latency_name, r.latency);
  for (const auto& [name, h] : r.calls) out += LatencyRow(name + " call", h);
  std::string errors;
  for (const auto& [code, n] : r.errors) absl::StrAppend(&errors, " ", code, " ", n);
  absl::StrAppend(&out, "  errors", errors.empty() ? " none" : errors, "\n");
  absl::StrAppendFormat(&out, "  client cpu %.2f s", r.client_cpu_seconds);
  for (const auto& [key, value] : r.extra.items()) {
    absl::StrAppend(&out, ", ", key, " ", value.dump());
  }
  out += "\n";
  return out;
}

int ReportRun(absl::StatusOr<RunResult> result, const std::string& tool,
              const std::string& server) {
  if (!result.ok()) {
    std::fprintf(stderr, "%s: %s\n", tool.c_str(), result.status().ToString().c_str());
    return 1;
  }
  result->tool = tool;
  result->server = server;
  std::cerr << ToTable(*result);
  std::cout << ToJsonLine(*result) << std::endl;
  return 0;
}

double ProcessCpuSeconds() {
  rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace pgqrs::bench
