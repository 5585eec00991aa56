// Structure-aware request bytes for the gRPC fuzzer: the request message's descriptor
// drives a raw protobuf wire encoder, so string fields can carry NUL bytes and invalid
// UTF-8 (which the C++ serialiser would not produce knowingly) and integers take extreme
// values; repeated fields can be huge. Mutate() then damages bytes at random to reach the
// server's parse errors too.
#pragma once

#include <google/protobuf/descriptor.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace pgqrs::fuzz {

class RequestGenerator {
 public:
  // `dictionary` holds strings worth trying in string fields (existing names, receipts...).
  RequestGenerator(uint64_t seed, std::vector<std::string> dictionary);

  // A random wire encoding of a message of type `type`.
  std::string Generate(const google::protobuf::Descriptor* type);
  // `bytes` with a few random bytes flipped, inserted, removed or the tail cut off.
  std::string Mutate(std::string bytes);

  void AddToDictionary(std::string word) { dictionary_.push_back(std::move(word)); }
  std::mt19937_64& rng() { return rng_; }
  // Uniform in [0, n).
  size_t Pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

 private:
  void AppendMessage(const google::protobuf::Descriptor* type, int depth, std::string* out);
  void AppendField(const google::protobuf::FieldDescriptor* field, int depth, std::string* out);
  void AppendValue(const google::protobuf::FieldDescriptor* field, int depth, std::string* out);
  int64_t Integer();
  std::string String();

  std::mt19937_64 rng_;
  std::vector<std::string> dictionary_;
  // String bytes left for the request being generated: keeps huge repeated fields of huge
  // strings within what one call can carry.
  size_t budget_ = 0;
};

}  // namespace pgqrs::fuzz
