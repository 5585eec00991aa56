// Output formatting for the pgqrs client: aligned tables for people, JSON lines for scripts.
//
// Records are protobuf messages and are rendered by reflection, so every name shown comes
// from the proto definition:
//   - table mode shows chosen fields as columns (header = field name in upper case), or a
//     single record as aligned "field: value" lines;
//   - JSON mode prints one object per line with the proto field names. Scalars are always
//     present, int64 values are JSON numbers, enums are their proto value names, Timestamps
//     are RFC 3339 strings, maps are objects, unset message fields are omitted.
//
// Thread safety: Printer is not thread-safe; the free functions are.
#pragma once

#include <google/protobuf/message.h>

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace pgqrs::cli {

enum class OutputFormat { kTable, kJson };

// Left-aligned columns separated by two spaces, widths counted in UTF-8 code points, no
// trailing spaces, one '\n' per line. The header line is always printed.
std::string RenderTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<std::string>>& rows);

// "key: value" lines with the values aligned one column past the longest key.
std::string RenderFields(const std::vector<std::pair<std::string, std::string>>& fields);

// `message` as a JSON object (see the file comment for the mapping).
nlohmann::json ProtoToJson(const google::protobuf::Message& message);

// Compact one-line JSON text; invalid UTF-8 is replaced rather than thrown on.
std::string JsonLine(const nlohmann::json& value);

// The table text of the field at `path` ("name", or "stats.pending" for a nested field):
// enums by short lower-case name ("in_flight"), Timestamps RFC 3339, repeated values joined
// with ", ", maps as "k=v,k=v". Empty and unset values show as "-".
// REQUIRES: `path` names a field of `message`'s type (checked).
std::string FieldText(const google::protobuf::Message& message, const std::string& path);

// Every field of `message`, nested messages flattened to "outer.inner", in declaration order.
std::vector<std::pair<std::string, std::string>> FlattenFields(
    const google::protobuf::Message& message);

// "WORKER_STATUS_IN_FLIGHT" -> "in_flight": the value name without its enum's prefix (the
// part before "UNSPECIFIED" in value 0's name), in lower case.
std::string ShortEnumName(const google::protobuf::EnumValueDescriptor& value);

// Writes command results in the chosen format to one stream.
class Printer {
 public:
  Printer(OutputFormat format, std::ostream& out) : format_(format), out_(out) {}

  OutputFormat format() const { return format_; }

  // A list of records: a table of `columns` (field paths), or one JSON line per record
  // with every field.
  void PrintRecords(const std::vector<std::string>& columns,
                    const std::vector<const google::protobuf::Message*>& records);

  // One record: "field: value" lines, or one JSON line.
  void PrintRecord(const google::protobuf::Message& record);

  // Pre-built rows and objects, for results that are not single proto messages.
  void PrintCustom(const std::vector<std::string>& headers,
                   const std::vector<std::vector<std::string>>& rows,
                   const std::vector<nlohmann::json>& objects);

  // A line for people (table mode only), e.g. a confirmation.
  void PrintNote(const std::string& line);

 private:
  OutputFormat format_;
  std::ostream& out_;
};

// Adapts a protobuf repeated field (or any range of messages) for Printer::PrintRecords.
template <typename Range>
std::vector<const google::protobuf::Message*> Records(const Range& range) {
  std::vector<const google::protobuf::Message*> records;
  for (const auto& record : range) {
    records.push_back(&record);
  }
  return records;
}

}  // namespace pgqrs::cli
