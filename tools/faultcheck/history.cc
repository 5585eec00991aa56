#include "tools/faultcheck/history.h"

#include <chrono>
#include <memory>

#include "absl/strings/str_cat.h"

namespace pgqrs::faultcheck {

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

absl::StatusOr<std::unique_ptr<HistoryWriter>> HistoryWriter::Open(const std::string& path) {
  auto writer = std::make_unique<HistoryWriter>();
  if (!path.empty()) {
    writer->out_.open(path, std::ios::out | std::ios::trunc);
    if (!writer->out_) return absl::InvalidArgumentError(absl::StrCat("cannot write ", path));
  }
  return writer;
}

void HistoryWriter::Append(Event event) {
  std::lock_guard<std::mutex> lock(mu_);
  if (out_.is_open()) out_ << event.dump() << '\n' << std::flush;
  events_.push_back(std::move(event));
}

History HistoryWriter::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return events_;
}

absl::StatusOr<History> ReadHistory(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  History history;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    Event event = Event::parse(line, nullptr, /*allow_exceptions=*/false);
    if (event.is_discarded() || !event.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", number, ": not a JSON object"));
    }
    history.push_back(std::move(event));
  }
  return history;
}

}  // namespace pgqrs::faultcheck
