#include "storage/checks.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace pgqrs::storage {

absl::Status CheckStepName(const std::string& name) {
  if (!name.empty() && name.size() <= kMaxStepNameBytes) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("step_name: must be 1 to ", kMaxStepNameBytes, " bytes, not ", name.size()));
}

absl::Status CheckJsonDocument(const std::string& field, const std::string& text) {
  if (nlohmann::json::accept(text)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, ": not valid JSON"));
}

}  // namespace pgqrs::storage
