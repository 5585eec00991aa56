// Values and the SQLite record format (fileformat.html section 2.1) plus the sort order used
// by index b-trees (section 2.2, BINARY collation only).
// Thread safety: Value is a plain value type; the functions are stateless.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pgqrs::engine {

// One SQLite value. Text and blob bytes live in `bytes`.
class Value {
 public:
  enum class Type : uint8_t { kNull = 0, kInteger = 1, kReal = 2, kText = 3, kBlob = 4 };

  Value() = default;
  static Value Null() { return Value(); }
  static Value Integer(int64_t v) {
    Value r;
    r.type_ = Type::kInteger;
    r.i_ = v;
    return r;
  }
  static Value Real(double v) {
    Value r;
    r.type_ = Type::kReal;
    r.d_ = v;
    return r;
  }
  static Value Text(std::string_view s) {
    Value r;
    r.type_ = Type::kText;
    r.bytes_.assign(s.data(), s.size());
    return r;
  }
  static Value Blob(std::string_view s) {
    Value r;
    r.type_ = Type::kBlob;
    r.bytes_.assign(s.data(), s.size());
    return r;
  }

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  // REQUIRES: type() == kInteger.
  int64_t integer() const { return i_; }
  // REQUIRES: type() == kReal.
  double real() const { return d_; }
  // REQUIRES: type() is kText or kBlob.
  const std::string& bytes() const { return bytes_; }

  // Exact equality (same type and same content; 1 != 1.0).
  bool operator==(const Value& o) const;
  bool operator!=(const Value& o) const { return !(*this == o); }
  // Debug rendering, e.g. `42`, `'abc'`, `x'00ff'`, `NULL`.
  std::string DebugString() const;

 private:
  Type type_ = Type::kNull;
  int64_t i_ = 0;
  double d_ = 0;
  std::string bytes_;
};

using Row = std::vector<Value>;

// Compares two values in SQLite sort order: NULL < numbers < TEXT < BLOB.
int CompareValues(const Value& a, const Value& b);

// Appends the record encoding of `values` to `out`. REQUIRES: !values.empty().
void EncodeRecord(const std::vector<Value>& values, std::string* out);

// Decodes a complete record. Returns DataLoss on any malformed header, reserved serial type
// or body overrun.
absl::StatusOr<std::vector<Value>> DecodeRecord(std::string_view record);

// Compares the record `record` (encoded) against the key `key`, column by column, over
// min(columns, key.size()) columns. `desc[i]` inverts column i (absent => ascending).
// Returns <0, 0 or >0; 0 means the compared prefix is equal. DataLoss if `record` is malformed.
absl::StatusOr<int> CompareRecordToKey(std::string_view record, const std::vector<Value>& key,
                                       const std::vector<bool>& desc);

}  // namespace pgqrs::engine
