#include "tools/pgqrs/args.h"

#include <algorithm>
#include <cstddef>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/status_macros.h"
#include "tools/pgqrs/errors.h"

namespace pgqrs::cli {
namespace {

struct Positional {
  std::string name;  // without brackets or dots
  bool optional = false;
  bool variadic = false;
};

Positional DescribePositional(std::string spec) {
  Positional p;
  if (spec.size() >= 2 && spec.front() == '[' && spec.back() == ']') {
    p.optional = true;
    spec = spec.substr(1, spec.size() - 2);
  }
  if (spec.size() > 3 && spec.ends_with("...")) {
    p.variadic = true;
    spec.resize(spec.size() - 3);
  }
  p.name = std::move(spec);
  return p;
}

const std::vector<FlagSpec>& GlobalFlagSpecs() {
  static const auto* const kFlags = new std::vector<FlagSpec>{
      {"server", FlagKind::kString, "HOST:PORT", ""},
      {"token", FlagKind::kString, "TOKEN", ""},
      {"token-file", FlagKind::kString, "PATH", ""},
      {"tls-ca", FlagKind::kString, "PEM", ""},
      {"tls-cert", FlagKind::kString, "PEM", ""},
      {"tls-key", FlagKind::kString, "PEM", ""},
      {"timeout-ms", FlagKind::kInt, "MS", ""},
      {"output", FlagKind::kString, "FORMAT", ""},
  };
  return *kFlags;
}

const FlagSpec* FindFlag(const std::vector<FlagSpec>& flags, std::string_view name) {
  for (const FlagSpec& flag : flags) {
    if (flag.name == name) {
      return &flag;
    }
  }
  return nullptr;
}

bool IsHelpToken(const std::string& token) { return token == "--help" || token == "-h"; }

bool IsFlagToken(const std::string& token) {
  return token == "-h" || (token.size() > 2 && token.starts_with("--"));
}

bool IsPrefixOfAny(const std::vector<CommandSpec>& specs, const std::vector<std::string>& words) {
  return std::any_of(specs.begin(), specs.end(), [&](const CommandSpec& spec) {
    return spec.words.size() >= words.size() &&
           std::equal(words.begin(), words.end(), spec.words.begin());
  });
}

// The next words that can follow `prefix`, in table order and without duplicates.
std::vector<std::string> NextWords(const std::vector<CommandSpec>& specs,
                                   const std::vector<std::string>& prefix) {
  std::vector<std::string> next;
  for (const CommandSpec& spec : specs) {
    if (spec.words.size() > prefix.size() &&
        std::equal(prefix.begin(), prefix.end(), spec.words.begin())) {
      const std::string& word = spec.words[prefix.size()];
      if (std::find(next.begin(), next.end(), word) == next.end()) {
        next.push_back(word);
      }
    }
  }
  return next;
}

// Parses one command line. Help requests are handled separately by ParseHelp.
class Parser {
 public:
  Parser(const std::vector<std::string>& tokens, const std::vector<CommandSpec>& specs)
      : tokens_(tokens), specs_(specs) {}

  absl::StatusOr<Invocation> Run();

 private:
  absl::Status ParseFlag(size_t& i);
  absl::Status StoreGlobal(const FlagSpec& spec, std::string value);
  absl::Status StoreCommandFlag(const FlagSpec& spec, std::string value);
  absl::Status AddWord(const std::string& word);
  absl::Status CheckComplete() const;
  std::string CommandName() const { return absl::StrJoin(inv_.command, " "); }

  const std::vector<std::string>& tokens_;
  const std::vector<CommandSpec>& specs_;
  const CommandSpec* command_ = nullptr;
  std::vector<std::string> words_;
  Invocation inv_;
};

absl::StatusOr<Invocation> Parser::Run() {
  bool flags_ended = false;
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const std::string& token = tokens_[i];
    if (!flags_ended && token == "--") {
      flags_ended = true;
    } else if (!flags_ended && IsFlagToken(token)) {
      PGQRS_RETURN_IF_ERROR(ParseFlag(i));
    } else if (command_ == nullptr) {
      PGQRS_RETURN_IF_ERROR(AddWord(token));
    } else {
      inv_.args.push_back(token);
    }
  }
  if (command_ == nullptr) {
    if (words_.empty()) {
      return UsageError("missing command");
    }
    return UsageError(absl::StrCat("\"", absl::StrJoin(words_, " "), "\" needs a subcommand: ",
                                   absl::StrJoin(NextWords(specs_, words_), ", ")));
  }
  PGQRS_RETURN_IF_ERROR(CheckComplete());
  return std::move(inv_);
}

absl::Status Parser::ParseFlag(size_t& i) {
  const std::string& token = tokens_[i];
  const size_t eq = token.find('=');
  const std::string name = token.substr(2, eq == std::string::npos ? eq : eq - 2);
  std::optional<std::string> value;
  if (eq != std::string::npos) {
    value = token.substr(eq + 1);
  }
  const FlagSpec* spec = FindFlag(GlobalFlagSpecs(), name);
  const bool global = spec != nullptr;
  if (!global && command_ != nullptr) {
    spec = FindFlag(command_->flags, name);
  }
  if (spec == nullptr) {
    if (command_ == nullptr) {
      return UsageError(
          absl::StrCat("unknown flag --", name, " (command flags go after the command words)"));
    }
    return UsageError(absl::StrCat("unknown flag --", name, " for \"", CommandName(), "\""));
  }
  if (!value.has_value()) {
    if (spec->kind == FlagKind::kBool) {
      value = "true";
    } else if (i + 1 < tokens_.size()) {
      value = tokens_[++i];
    } else {
      return UsageError(absl::StrCat("flag --", name, " needs a value (", spec->value_name, ")"));
    }
  }
  return global ? StoreGlobal(*spec, *std::move(value))
                : StoreCommandFlag(*spec, *std::move(value));
}

absl::Status Parser::StoreGlobal(const FlagSpec& spec, std::string value) {
  GlobalFlags& g = inv_.globals;
  if (spec.name == "timeout-ms") {
    PGQRS_ASSIGN_OR_RETURN(int64_t ms, ParseInt64(value, "--timeout-ms"));
    if (ms <= 0) {
      return UsageError("--timeout-ms must be positive");
    }
    g.timeout_ms = ms;
  } else if (spec.name == "output") {
    if (value != "table" && value != "json") {
      return UsageError(absl::StrCat("--output must be table or json, not \"", value, "\""));
    }
    g.output = std::move(value);
  } else if (spec.name == "server") {
    g.server = std::move(value);
  } else if (spec.name == "token-file") {
    g.token_file = std::move(value);
  } else if (spec.name == "tls-ca") {
    g.tls_ca = std::move(value);
  } else if (spec.name == "tls-cert") {
    g.tls_cert = std::move(value);
  } else if (spec.name == "tls-key") {
    g.tls_key = std::move(value);
  } else {
    // A secret in argv is visible to every user (ps, /proc) and lands in shell history.
    return UsageError(
        "--token is refused: it would expose the token; use --token-file=PATH or PGQRS_TOKEN");
  }
  return absl::OkStatus();
}

absl::Status Parser::StoreCommandFlag(const FlagSpec& spec, std::string value) {
  const std::string flag = absl::StrCat("--", spec.name);
  if (spec.kind == FlagKind::kBool && value != "true" && value != "false") {
    return UsageError(absl::StrCat(flag, " takes true or false, not \"", value, "\""));
  }
  if (spec.kind == FlagKind::kInt) {
    PGQRS_RETURN_IF_ERROR(ParseInt64(value, flag).status());
  }
  std::vector<std::string>& values = inv_.flags[spec.name];
  if (!values.empty() && !spec.repeatable) {
    return UsageError(absl::StrCat("flag ", flag, " given more than once"));
  }
  values.push_back(std::move(value));
  return absl::OkStatus();
}

absl::Status Parser::AddWord(const std::string& word) {
  words_.push_back(word);
  command_ = FindCommand(specs_, words_);
  if (command_ != nullptr) {
    inv_.command = words_;
    return absl::OkStatus();
  }
  if (IsPrefixOfAny(specs_, words_)) {
    return absl::OkStatus();
  }
  words_.pop_back();
  if (words_.empty()) {
    return UsageError(absl::StrCat("unknown command \"", word, "\""));
  }
  return UsageError(
      absl::StrCat("unknown ", absl::StrJoin(words_, " "), " command \"", word,
                   "\" (expected one of: ", absl::StrJoin(NextWords(specs_, words_), ", "), ")"));
}

absl::Status Parser::CheckComplete() const {
  const std::vector<std::string>& names = command_->positionals;
  const std::vector<std::string>& args = inv_.args;
  for (const FlagSpec& flag : command_->flags) {
    if (flag.required && inv_.flags.count(flag.name) == 0) {
      return UsageError(
          absl::StrCat(CommandName(), ": missing flag --", flag.name, " ", flag.value_name));
    }
  }
  bool variadic = false;
  for (size_t k = 0; k < names.size(); ++k) {
    const Positional p = DescribePositional(names[k]);
    variadic = p.variadic;
    if (k >= args.size() && !p.optional) {
      return UsageError(absl::StrCat(CommandName(), ": missing argument ", p.name));
    }
  }
  if (!variadic && args.size() > names.size()) {
    return UsageError(
        absl::StrCat(CommandName(), ": unexpected argument \"", args[names.size()], "\""));
  }
  return absl::OkStatus();
}

// `help [WORDS...]`, or `--help`/`-h` anywhere: the topic is the longest prefix of the
// command words that names a command or group.
absl::StatusOr<Invocation> ParseHelp(const std::vector<std::string>& tokens,
                                     const std::vector<CommandSpec>& specs) {
  Invocation inv;
  inv.help = true;
  std::vector<std::string> words;
  bool explicit_topic = false;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string& token = tokens[i];
    if (token == "--") {
      break;
    }
    if (IsFlagToken(token)) {
      const FlagSpec* global = FindFlag(GlobalFlagSpecs(), token.substr(2));
      i += (global != nullptr && token.find('=') == std::string::npos) ? 1 : 0;
      continue;
    }
    if (words.empty() && !explicit_topic && token == "help") {
      explicit_topic = true;
      continue;
    }
    words.push_back(token);
    if (!IsPrefixOfAny(specs, words)) {
      if (explicit_topic) {
        return UsageError(absl::StrCat("no help for \"", absl::StrJoin(words, " "), "\""));
      }
      words.pop_back();
      break;
    }
  }
  inv.command = std::move(words);
  return inv;
}

bool WantsHelp(const std::vector<std::string>& tokens) {
  for (const std::string& token : tokens) {
    if (token == "--") {
      return false;
    }
    if (IsHelpToken(token)) {
      return true;
    }
  }
  return !tokens.empty() && tokens.front() == "help";
}

}  // namespace

bool Invocation::Has(std::string_view name) const {
  auto it = flags.find(std::string(name));
  return it != flags.end() && !it->second.empty() && it->second.back() != "false";
}

std::string Invocation::GetString(std::string_view name, std::string fallback) const {
  auto it = flags.find(std::string(name));
  return it == flags.end() || it->second.empty() ? fallback : it->second.back();
}

int64_t Invocation::GetInt(std::string_view name, int64_t fallback) const {
  auto it = flags.find(std::string(name));
  int64_t value = fallback;
  if (it != flags.end() && !it->second.empty() && !absl::SimpleAtoi(it->second.back(), &value)) {
    value = fallback;  // unreachable: ParseArgs validated every kInt value
  }
  return value;
}

std::vector<std::string> Invocation::GetAll(std::string_view name) const {
  auto it = flags.find(std::string(name));
  return it == flags.end() ? std::vector<std::string>{} : it->second;
}

absl::StatusOr<Invocation> ParseArgs(const std::vector<std::string>& args,
                                     const std::vector<CommandSpec>& specs) {
  if (WantsHelp(args)) {
    return ParseHelp(args, specs);
  }
  return Parser(args, specs).Run();
}

const CommandSpec* FindCommand(const std::vector<CommandSpec>& specs,
                               const std::vector<std::string>& words) {
  for (const CommandSpec& spec : specs) {
    if (spec.words == words) {
      return &spec;
    }
  }
  return nullptr;
}

absl::StatusOr<int64_t> ParseInt64(std::string_view text, std::string_view what) {
  int64_t value = 0;
  if (!absl::SimpleAtoi(absl::string_view(text.data(), text.size()), &value)) {
    return UsageError(absl::StrCat(absl::string_view(what.data(), what.size()),
                                   " must be an integer, not \"",
                                   absl::string_view(text.data(), text.size()), "\""));
  }
  return value;
}

}  // namespace pgqrs::cli
