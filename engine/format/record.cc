#include "engine/format/record.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/format/varint.h"

namespace pgqrs::engine {
namespace {

// Byte widths of integer serial types 1..6.
constexpr int kIntWidth[7] = {0, 1, 2, 3, 4, 6, 8};

uint64_t SerialTypeFor(const Value& v) {
  switch (v.type()) {
    case Value::Type::kNull:
      return 0;
    case Value::Type::kInteger: {
      int64_t i = v.integer();
      if (i == 0) return 8;
      if (i == 1) return 9;
      uint64_t u = i < 0 ? ~static_cast<uint64_t>(i) : static_cast<uint64_t>(i);
      if (u <= 127) return 1;
      if (u <= 32767) return 2;
      if (u <= 8388607) return 3;
      if (u <= 2147483647) return 4;
      if (u <= 140737488355327ULL) return 5;
      return 6;
    }
    case Value::Type::kReal:
      return 7;
    case Value::Type::kText:
      return 13 + 2 * v.bytes().size();
    case Value::Type::kBlob:
      return 12 + 2 * v.bytes().size();
  }
  return 0;
}

// Body length for serial type `t`, or -1 for reserved types 10 and 11.
int64_t BodyLength(uint64_t t) {
  if (t <= 6) return kIntWidth[t];
  if (t == 7) return 8;
  if (t == 8 || t == 9) return 0;
  if (t == 10 || t == 11) return -1;
  return static_cast<int64_t>((t - 12) / 2);
}

int64_t ReadInt(const uint8_t* p, int width) {
  uint64_t v = (p[0] & 0x80) ? ~uint64_t{0} : 0;
  for (int i = 0; i < width; ++i) v = (v << 8) | p[i];
  return static_cast<int64_t>(v);
}

Value DecodeBody(uint64_t t, const uint8_t* p) {
  if (t == 0) return Value::Null();
  if (t <= 6) return Value::Integer(ReadInt(p, kIntWidth[t]));
  if (t == 7) {
    uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];
    double d;
    std::memcpy(&d, &bits, 8);
    return Value::Real(d);
  }
  if (t == 8) return Value::Integer(0);
  if (t == 9) return Value::Integer(1);
  std::string_view s(reinterpret_cast<const char*>(p), (t - 12) / 2);
  return (t & 1) ? Value::Text(s) : Value::Blob(s);
}

int TypeClass(Value::Type t) {
  switch (t) {
    case Value::Type::kNull:
      return 0;
    case Value::Type::kInteger:
    case Value::Type::kReal:
      return 1;
    case Value::Type::kText:
      return 2;
    case Value::Type::kBlob:
      return 3;
  }
  return 0;
}

int CompareNumbers(const Value& a, const Value& b) {
  if (a.type() == Value::Type::kInteger && b.type() == Value::Type::kInteger) {
    return a.integer() < b.integer() ? -1 : (a.integer() > b.integer() ? 1 : 0);
  }
  if (a.type() == Value::Type::kReal && b.type() == Value::Type::kReal) {
    return a.real() < b.real() ? -1 : (a.real() > b.real() ? 1 : 0);
  }
  // Mixed: compare as long double, exact for all int64 and doubles on x86-64.
  long double x = a.type() == Value::Type::kInteger ? static_cast<long double>(a.integer())
                                                    : static_cast<long double>(a.real());
  long double y = b.type() == Value::Type::kInteger ? static_cast<long double>(b.integer())
                                                    : static_cast<long double>(b.real());
  return x < y ? -1 : (x > y ? 1 : 0);
}

// Iterates over the columns of an encoded record with bounds checks.
class RecordReader {
 public:
  explicit RecordReader(std::string_view rec)
      : p_(reinterpret_cast<const uint8_t*>(rec.data())), n_(rec.size()) {}

  absl::Status Init() {
    uint64_t hlen;
    int k = GetVarint(p_, n_, &hlen);
    if (k == 0 || hlen < static_cast<uint64_t>(k) || hlen > n_) {
      return absl::DataLossError("record: bad header length");
    }
    hpos_ = k;
    hend_ = hlen;
    bpos_ = hlen;
    return absl::OkStatus();
  }
  bool Done() const { return hpos_ >= hend_; }
  // An upper bound of the columns left: each takes at least one header byte.
  size_t max_columns() const { return hend_ - hpos_; }
  absl::StatusOr<Value> Next() {
    uint64_t t;
    int k = GetVarint(p_ + hpos_, hend_ - hpos_, &t);
    if (k == 0) return absl::DataLossError("record: truncated serial type");
    hpos_ += k;
    int64_t len = BodyLength(t);
    if (len < 0) return absl::DataLossError("record: reserved serial type");
    if (static_cast<uint64_t>(len) > n_ - bpos_) return absl::DataLossError("record: body overrun");
    Value v = DecodeBody(t, p_ + bpos_);
    bpos_ += len;
    return v;
  }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t hpos_ = 0, hend_ = 0, bpos_ = 0;
};

}  // namespace

bool Value::operator==(const Value& o) const {
  if (type_ != o.type_) return false;
  switch (type_) {
    case Type::kNull:
      return true;
    case Type::kInteger:
      return i_ == o.i_;
    case Type::kReal:
      return std::memcmp(&d_, &o.d_, sizeof d_) == 0 || d_ == o.d_;
    default:
      return bytes_ == o.bytes_;
  }
}

std::string Value::DebugString() const {
  switch (type_) {
    case Type::kNull:
      return "NULL";
    case Type::kInteger:
      return absl::StrCat(i_);
    case Type::kReal:
      return absl::StrCat(d_, "r");
    case Type::kText:
      return "'" + bytes_ + "'";
    case Type::kBlob:
      return absl::StrCat("blob(", bytes_.size(), ")");
  }
  return "?";
}

int CompareValues(const Value& a, const Value& b) {
  int ca = TypeClass(a.type()), cb = TypeClass(b.type());
  if (ca != cb) return ca < cb ? -1 : 1;
  if (ca == 0) return 0;
  if (ca == 1) return CompareNumbers(a, b);
  size_t n = std::min(a.bytes().size(), b.bytes().size());
  int c = n == 0 ? 0 : std::memcmp(a.bytes().data(), b.bytes().data(), n);
  if (c != 0) return c < 0 ? -1 : 1;
  if (a.bytes().size() == b.bytes().size()) return 0;
  return a.bytes().size() < b.bytes().size() ? -1 : 1;
}

void EncodeRecord(const std::vector<Value>& values, std::string* out) {
  uint8_t buf[9];
  size_t header_body = 0;
  for (const Value& v : values) header_body += VarintLength(SerialTypeFor(v));
  // The header length includes its own varint; iterate until stable.
  size_t hlen = header_body + 1;
  while (static_cast<size_t>(VarintLength(hlen)) + header_body != hlen) {
    hlen = header_body + VarintLength(hlen);
  }
  out->append(reinterpret_cast<char*>(buf), PutVarint(buf, hlen));
  for (const Value& v : values) {
    out->append(reinterpret_cast<char*>(buf), PutVarint(buf, SerialTypeFor(v)));
  }
  for (const Value& v : values) {
    uint64_t t = SerialTypeFor(v);
    if (t >= 1 && t <= 6) {
      int w = kIntWidth[t];
      uint64_t u = static_cast<uint64_t>(v.integer());
      for (int i = w - 1; i >= 0; --i) buf[w - 1 - i] = static_cast<uint8_t>(u >> (8 * i));
      out->append(reinterpret_cast<char*>(buf), w);
    } else if (t == 7) {
      uint64_t bits;
      double d = v.real();
      std::memcpy(&bits, &d, 8);
      for (int i = 0; i < 8; ++i) buf[i] = static_cast<uint8_t>(bits >> (56 - 8 * i));
      out->append(reinterpret_cast<char*>(buf), 8);
    } else if (t >= 12) {
      out->append(v.bytes());
    }
  }
}

absl::StatusOr<std::vector<Value>> DecodeRecord(std::string_view record) {
  RecordReader r(record);
  absl::Status s = r.Init();
  if (!s.ok()) return s;
  std::vector<Value> out;
  out.reserve(r.max_columns());
  while (!r.Done()) {
    absl::StatusOr<Value> v = r.Next();
    if (!v.ok()) return v.status();
    out.push_back(std::move(*v));
  }
  return out;
}

namespace {

// Compares the field with serial type `t` and body `p` against `key` without allocating.
int CompareField(uint64_t t, const uint8_t* p, const Value& key) {
  int field_class = t == 0 ? 0 : (t <= 9 ? 1 : ((t & 1) ? 2 : 3));
  int key_class = TypeClass(key.type());
  if (field_class != key_class) return field_class < key_class ? -1 : 1;
  if (field_class == 0) return 0;
  if (field_class == 1) {
    if (t != 7 && key.type() == Value::Type::kInteger) {
      int64_t v = t == 8 ? 0 : (t == 9 ? 1 : ReadInt(p, kIntWidth[t]));
      return v < key.integer() ? -1 : (v > key.integer() ? 1 : 0);
    }
    return CompareNumbers(DecodeBody(t, p), key);
  }
  size_t len = (t - 12) / 2;
  const std::string& kb = key.bytes();
  size_t n = std::min(len, kb.size());
  int c = n == 0 ? 0 : std::memcmp(p, kb.data(), n);
  if (c != 0) return c < 0 ? -1 : 1;
  if (len == kb.size()) return 0;
  return len < kb.size() ? -1 : 1;
}

}  // namespace

absl::StatusOr<int> CompareRecordToKey(std::string_view record, const std::vector<Value>& key,
                                       const std::vector<bool>& desc) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(record.data());
  const size_t n = record.size();
  uint64_t hlen;
  int k = GetVarint(p, n, &hlen);
  if (k == 0 || hlen < static_cast<uint64_t>(k) || hlen > n) {
    return absl::DataLossError("record: bad header length");
  }
  size_t hpos = k, bpos = hlen;
  for (size_t i = 0; i < key.size() && hpos < hlen; ++i) {
    uint64_t t;
    int m = GetVarint(p + hpos, hlen - hpos, &t);
    if (m == 0) return absl::DataLossError("record: truncated serial type");
    hpos += m;
    int64_t len = BodyLength(t);
    if (len < 0) return absl::DataLossError("record: reserved serial type");
    if (static_cast<uint64_t>(len) > n - bpos) return absl::DataLossError("record: body overrun");
    int c = CompareField(t, p + bpos, key[i]);
    if (c != 0) return (i < desc.size() && desc[i]) ? -c : c;
    bpos += len;
  }
  return 0;
}

}  // namespace pgqrs::engine
