#include "storage/checks.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace pgqrs::storage {
namespace {

// Accepts a document unless it nests too deep or a string or key holds a NUL.
class StoreableJson final : public nlohmann::json_sax<nlohmann::json> {
 public:
  std::string problem;  // empty while acceptable

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool string(string_t& s) override { return NoNul(s); }
  bool key(string_t& k) override { return NoNul(k); }
  bool start_object(std::size_t) override { return Enter(); }
  bool end_object() override { return Leave(); }
  bool start_array(std::size_t) override { return Enter(); }
  bool end_array() override { return Leave(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    problem = "not valid JSON";
    return false;
  }

 private:
  bool NoNul(const string_t& s) {
    if (s.find('\0') == string_t::npos) return true;
    problem = "\\u0000 is not supported in JSON strings";
    return false;
  }
  bool Enter() {
    if (++depth_ <= kMaxJsonDepth) return true;
    problem = absl::StrCat("nested deeper than ", kMaxJsonDepth, " levels");
    return false;
  }
  bool Leave() {
    --depth_;
    return true;
  }
  int depth_ = 0;
};

}  // namespace

absl::Status CheckText(const std::string& field, const std::string& text) {
  if (text.find('\0') == std::string::npos) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, ": must not contain NUL bytes"));
}

absl::Status CheckStepName(const std::string& name) {
  if (name.empty() || name.size() > kMaxStepNameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("step_name: must be 1 to ", kMaxStepNameBytes, " bytes, not ", name.size()));
  }
  return CheckText("step_name", name);
}

absl::Status CheckJsonDocument(const std::string& field, const std::string& text) {
  StoreableJson sax;
  if (nlohmann::json::sax_parse(text, &sax)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": ", sax.problem.empty() ? "not valid JSON" : sax.problem));
}

absl::Status CheckRegistrationText(const WorkerRegistration& reg) {
  if (absl::Status s = CheckText("name", reg.name); !s.ok()) return s;
  if (absl::Status s = CheckText("queue", reg.queue); !s.ok()) return s;
  if (absl::Status s = CheckText("hostname", reg.hostname); !s.ok()) return s;
  for (const auto& [key, value] : reg.labels) {
    if (absl::Status s = CheckText("labels", key); !s.ok()) return s;
    if (absl::Status s = CheckText("labels", value); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status CheckDedupKeys(std::span<const NewMessage> messages) {
  for (size_t i = 0; i < messages.size(); ++i) {
    if (absl::Status s =
            CheckText(absl::StrCat("messages[", i, "].dedup_key"), messages[i].dedup_key);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace pgqrs::storage
