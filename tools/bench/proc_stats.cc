#include "tools/bench/proc_stats.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace pgqrs::bench {
namespace {

// "VmRSS:	  123456 kB" -> 123456 * 1024.
int64_t KibField(absl::string_view rest) {
  int64_t kib = 0;
  rest = absl::StripAsciiWhitespace(absl::StripSuffix(absl::StripAsciiWhitespace(rest), "kB"));
  return absl::SimpleAtoi(rest, &kib) ? kib * 1024 : 0;
}

int64_t ContextSwitches(const std::string& dir) {
  int64_t total = 0;
  std::error_code error;
  for (const auto& task : std::filesystem::directory_iterator(dir + "/task", error)) {
    std::ifstream status(task.path() / "status");
    for (std::string line; std::getline(status, line);) {
      absl::string_view view(line);
      if (absl::ConsumePrefix(&view, "voluntary_ctxt_switches:") ||
          absl::ConsumePrefix(&view, "nonvoluntary_ctxt_switches:")) {
        int64_t n = 0;
        if (absl::SimpleAtoi(absl::StripAsciiWhitespace(view), &n)) total += n;
      }
    }
  }
  return total;
}

}  // namespace

absl::StatusOr<ProcessStats> ReadProcessStats(pid_t pid) {
  std::string dir = absl::StrCat("/proc/", pid);
  std::ifstream status(dir + "/status");
  std::ifstream stat(dir + "/stat");
  if (!status || !stat) return absl::NotFoundError(absl::StrCat("no process ", pid));
  ProcessStats stats;
  for (std::string line; std::getline(status, line);) {
    absl::string_view view(line);
    if (absl::ConsumePrefix(&view, "Threads:")) {
      absl::SimpleAtoi(absl::StripAsciiWhitespace(view), &stats.threads);
    } else if (absl::ConsumePrefix(&view, "VmRSS:")) {
      stats.rss_bytes = KibField(view);
    } else if (absl::ConsumePrefix(&view, "VmHWM:")) {
      stats.peak_rss_bytes = KibField(view);
    }
  }
  // The command name may hold spaces; fields after its ')' are space separated, and
  // utime, stime are fields 14 and 15 of the whole line (11 and 12 after the ')').
  std::string line((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  size_t paren = line.rfind(')');
  if (paren != std::string::npos) {
    std::vector<std::string> fields = absl::StrSplit(line.substr(paren + 2), ' ');
    int64_t utime = 0, stime = 0;
    if (fields.size() > 12 && absl::SimpleAtoi(fields[11], &utime) &&
        absl::SimpleAtoi(fields[12], &stime)) {
      stats.cpu_seconds = static_cast<double>(utime + stime) / sysconf(_SC_CLK_TCK);
    }
  }
  stats.context_switches = ContextSwitches(dir);
  return stats;
}

nlohmann::json ToJson(const ProcessStats& stats) {
  auto mib = [](int64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); };
  return {{"threads", stats.threads},
          {"rss_mib", mib(stats.rss_bytes)},
          {"peak_rss_mib", mib(stats.peak_rss_bytes)}};
}

}  // namespace pgqrs::bench
