#include "tests/fuzz/request_generator.h"

#include <cstring>
#include <limits>

namespace pgqrs::fuzz {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

constexpr int kMaxDepth = 4;
constexpr size_t kStringBudget = 2 << 20;

void AppendVarint(uint64_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

void AppendTag(int number, int wire_type, std::string* out) {
  AppendVarint((static_cast<uint64_t>(number) << 3) | wire_type, out);
}

void AppendLengthDelimited(const std::string& bytes, std::string* out) {
  AppendVarint(bytes.size(), out);
  out->append(bytes);
}

int WireType(const FieldDescriptor* field) {
  switch (field->type()) {
    case FieldDescriptor::TYPE_DOUBLE:
    case FieldDescriptor::TYPE_FIXED64:
    case FieldDescriptor::TYPE_SFIXED64:
      return 1;
    case FieldDescriptor::TYPE_FLOAT:
    case FieldDescriptor::TYPE_FIXED32:
    case FieldDescriptor::TYPE_SFIXED32:
      return 5;
    case FieldDescriptor::TYPE_STRING:
    case FieldDescriptor::TYPE_BYTES:
    case FieldDescriptor::TYPE_MESSAGE:
      return 2;
    default:
      return 0;
  }
}

}  // namespace

RequestGenerator::RequestGenerator(uint64_t seed, std::vector<std::string> dictionary)
    : rng_(seed), dictionary_(std::move(dictionary)) {}

std::string RequestGenerator::Generate(const Descriptor* type) {
  std::string out;
  budget_ = kStringBudget;
  AppendMessage(type, 0, &out);
  return out;
}

void RequestGenerator::AppendMessage(const Descriptor* type, int depth, std::string* out) {
  for (int i = 0; i < type->field_count(); ++i) {
    // Most fields are set, so requests get past the first check often enough.
    if (Pick(4) == 0) continue;
    AppendField(type->field(i), depth, out);
  }
  if (Pick(20) == 0) {  // an unknown field
    AppendTag(1000 + static_cast<int>(Pick(1000)), 0, out);
    AppendVarint(rng_(), out);
  }
}

void RequestGenerator::AppendField(const FieldDescriptor* field, int depth, std::string* out) {
  if (!field->is_repeated()) return AppendValue(field, depth, out);
  size_t count = Pick(10) == 0 ? 900 + Pick(2000) : Pick(4);  // sometimes over max_batch
  for (size_t i = 0; i < count && budget_ > 0; ++i) AppendValue(field, depth, out);
}

void RequestGenerator::AppendValue(const FieldDescriptor* field, int depth, std::string* out) {
  int wire_type = Pick(50) == 0 ? static_cast<int>(Pick(6)) : WireType(field);  // wrong type
  AppendTag(field->number(), wire_type, out);
  switch (wire_type) {
    case 0:
      return AppendVarint(static_cast<uint64_t>(Integer()), out);
    case 1: {
      uint64_t bits = static_cast<uint64_t>(Integer());
      if (field->type() == FieldDescriptor::TYPE_DOUBLE && Pick(2) == 0) {
        double d = std::uniform_real_distribution<double>(-2.0, 2.0)(rng_);
        std::memcpy(&bits, &d, sizeof(d));
      }
      for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(bits >> (8 * i)));
      return;
    }
    case 2: {
      std::string body;
      if (field->type() == FieldDescriptor::TYPE_MESSAGE && depth < kMaxDepth) {
        AppendMessage(field->message_type(), depth + 1, &body);
      } else {
        body = String();
      }
      return AppendLengthDelimited(body, out);
    }
    case 5: {
      uint32_t bits = static_cast<uint32_t>(Integer());
      for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(bits >> (8 * i)));
      return;
    }
    default:  // groups (3, 4): start or end tags with nothing else
      return;
  }
}

int64_t RequestGenerator::Integer() {
  static constexpr int64_t kInteresting[] = {
      0,
      1,
      -1,
      2,
      5,
      999,
      1000,
      1001,
      60000,
      60001,
      43200000,
      43200001,
      604800001,
      262145,
      std::numeric_limits<int32_t>::max(),
      std::numeric_limits<int32_t>::min(),
      std::numeric_limits<int64_t>::max(),
      std::numeric_limits<int64_t>::min(),
      std::numeric_limits<int64_t>::max() / 1000 + 1,
  };
  switch (Pick(3)) {
    case 0:
      return kInteresting[Pick(std::size(kInteresting))];
    case 1:
      return static_cast<int64_t>(Pick(20));
    default:
      return static_cast<int64_t>(rng_());
  }
}

std::string RequestGenerator::String() {
  std::string s = dictionary_[Pick(dictionary_.size())];
  switch (Pick(6)) {
    case 0:
      s.insert(Pick(s.size() + 1), 1, '\0');
      break;
    case 1:
      s.insert(Pick(s.size() + 1), "\xff\xc3(");  // invalid UTF-8
      break;
    case 2:
      s += dictionary_[Pick(dictionary_.size())];
      break;
    default:
      break;
  }
  if (s.size() > budget_) s.resize(budget_);
  budget_ -= s.size();
  return s;
}

std::string RequestGenerator::Mutate(std::string bytes) {
  int edits = 1 + static_cast<int>(Pick(4));
  for (int i = 0; i < edits; ++i) {
    size_t at = Pick(bytes.size() + 1);
    switch (Pick(4)) {
      case 0:
        if (at < bytes.size()) bytes[at] = static_cast<char>(rng_());
        break;
      case 1:
        bytes.insert(at, 1, static_cast<char>(rng_()));
        break;
      case 2:
        if (at < bytes.size()) bytes.erase(at, 1);
        break;
      default:
        bytes.resize(at);
        break;
    }
  }
  return bytes;
}

}  // namespace pgqrs::fuzz
