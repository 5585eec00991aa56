#include "tools/pgqrs/output.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "engine/base/status_macros.h"

namespace pgqrs::cli {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

size_t DisplayWidth(const std::string& text) {
  return std::count_if(text.begin(), text.end(),
                       [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
}

bool IsTimestamp(const FieldDescriptor* field) {
  return field->message_type() != nullptr &&
         field->message_type()->full_name() == "google.protobuf.Timestamp";
}

std::string TimestampText(const Message& message) {
  google::protobuf::Timestamp ts;
  ts.CopyFrom(message);
  return google::protobuf::util::TimeUtil::ToString(ts);
}

// One value of `field`: the singular value when index < 0, else element `index`.
nlohmann::json ValueToJson(const Message& m, const FieldDescriptor* f, int index) {
  const Reflection* r = m.GetReflection();
  const bool one = index < 0;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return one ? r->GetInt32(m, f) : r->GetRepeatedInt32(m, f, index);
    case FieldDescriptor::CPPTYPE_INT64:
      return one ? r->GetInt64(m, f) : r->GetRepeatedInt64(m, f, index);
    case FieldDescriptor::CPPTYPE_UINT32:
      return one ? r->GetUInt32(m, f) : r->GetRepeatedUInt32(m, f, index);
    case FieldDescriptor::CPPTYPE_UINT64:
      return one ? r->GetUInt64(m, f) : r->GetRepeatedUInt64(m, f, index);
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return one ? r->GetDouble(m, f) : r->GetRepeatedDouble(m, f, index);
    case FieldDescriptor::CPPTYPE_FLOAT:
      return one ? r->GetFloat(m, f) : r->GetRepeatedFloat(m, f, index);
    case FieldDescriptor::CPPTYPE_BOOL:
      return one ? r->GetBool(m, f) : r->GetRepeatedBool(m, f, index);
    case FieldDescriptor::CPPTYPE_STRING:
      return one ? r->GetString(m, f) : r->GetRepeatedString(m, f, index);
    case FieldDescriptor::CPPTYPE_ENUM:
      return (one ? r->GetEnum(m, f) : r->GetRepeatedEnum(m, f, index))->name();
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const Message& sub = one ? r->GetMessage(m, f) : r->GetRepeatedMessage(m, f, index);
      return IsTimestamp(f) ? nlohmann::json(TimestampText(sub)) : ProtoToJson(sub);
    }
  }
  return nullptr;
}

nlohmann::json MapToJson(const Message& m, const FieldDescriptor* f) {
  nlohmann::json object = nlohmann::json::object();
  const Reflection* r = m.GetReflection();
  for (int i = 0; i < r->FieldSize(m, f); ++i) {
    const Message& entry = r->GetRepeatedMessage(m, f, i);
    const FieldDescriptor* key = entry.GetDescriptor()->map_key();
    const FieldDescriptor* value = entry.GetDescriptor()->map_value();
    const nlohmann::json key_json = ValueToJson(entry, key, -1);
    object[key_json.is_string() ? key_json.get<std::string>() : key_json.dump()] =
        ValueToJson(entry, value, -1);
  }
  return object;
}

// Table text of one value (see ValueToJson for `index`).
std::string ValueText(const Message& m, const FieldDescriptor* f, int index) {
  const Reflection* r = m.GetReflection();
  if (f->cpp_type() == FieldDescriptor::CPPTYPE_ENUM) {
    return ShortEnumName(*(index < 0 ? r->GetEnum(m, f) : r->GetRepeatedEnum(m, f, index)));
  }
  if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && index < 0 && !r->HasField(m, f)) {
    return "-";
  }
  const nlohmann::json value = ValueToJson(m, f, index);
  if (value.is_string()) {
    return value.get<std::string>().empty() ? "-" : value.get<std::string>();
  }
  return JsonLine(value);
}

std::string FieldValueText(const Message& m, const FieldDescriptor* f) {
  if (f->is_map()) {
    std::map<std::string, std::string> sorted;
    const nlohmann::json entries = MapToJson(m, f);
    for (const auto& [key, value] : entries.items()) {
      sorted[key] = value.is_string() ? value.get<std::string>() : JsonLine(value);
    }
    return sorted.empty() ? "-" : absl::StrJoin(sorted, ",", absl::PairFormatter("="));
  }
  if (!f->is_repeated()) {
    return ValueText(m, f, -1);
  }
  std::vector<std::string> parts;
  for (int i = 0; i < m.GetReflection()->FieldSize(m, f); ++i) {
    parts.push_back(ValueText(m, f, i));
  }
  return parts.empty() ? "-" : absl::StrJoin(parts, ", ");
}

void Flatten(const Message& m, const std::string& prefix,
             std::vector<std::pair<std::string, std::string>>& out) {
  const google::protobuf::Descriptor* d = m.GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const bool nested =
        f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !f->is_repeated() && !IsTimestamp(f);
    if (!nested) {
      out.emplace_back(prefix + f->name(), FieldValueText(m, f));
    } else if (m.GetReflection()->HasField(m, f)) {
      Flatten(m.GetReflection()->GetMessage(m, f), prefix + f->name() + ".", out);
    }
  }
}

std::string Header(const std::string& path) {
  std::string header = path.substr(path.rfind('.') + 1);  // npos + 1 == 0
  std::transform(header.begin(), header.end(), header.begin(),
                 [](unsigned char c) { return std::toupper(c); });
  return header;
}

}  // namespace

std::string RenderTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(headers.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t c = 0; c < row.size() && c < widths.size(); ++c) {
      widths[c] = std::max(widths[c], DisplayWidth(row[c]));
    }
  };
  measure(headers);
  std::for_each(rows.begin(), rows.end(), measure);
  std::string text;
  auto emit = [&](const std::vector<std::string>& row) {
    for (size_t c = 0; c < row.size() && c < widths.size(); ++c) {
      text += row[c];
      if (c + 1 < row.size()) {
        text.append(widths[c] - DisplayWidth(row[c]) + 2, ' ');
      }
    }
    text += '\n';
  };
  emit(headers);
  std::for_each(rows.begin(), rows.end(), emit);
  return text;
}

std::string RenderFields(const std::vector<std::pair<std::string, std::string>>& fields) {
  size_t width = 0;
  for (const auto& field : fields) {
    width = std::max(width, DisplayWidth(field.first));
  }
  std::string text;
  for (const auto& [key, value] : fields) {
    absl::StrAppend(&text, key, ":", std::string(width - DisplayWidth(key) + 2, ' '), value, "\n");
  }
  return text;
}

nlohmann::json ProtoToJson(const Message& message) {
  nlohmann::json object = nlohmann::json::object();
  const google::protobuf::Descriptor* d = message.GetDescriptor();
  const Reflection* r = message.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->is_map()) {
      object[f->name()] = MapToJson(message, f);
    } else if (f->is_repeated()) {
      nlohmann::json array = nlohmann::json::array();
      for (int k = 0; k < r->FieldSize(message, f); ++k) {
        array.push_back(ValueToJson(message, f, k));
      }
      object[f->name()] = std::move(array);
    } else if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE || r->HasField(message, f)) {
      object[f->name()] = ValueToJson(message, f, -1);
    }
  }
  return object;
}

std::string JsonLine(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string FieldText(const Message& message, const std::string& path) {
  const Message* m = &message;
  const std::vector<std::string> parts = absl::StrSplit(path, '.');
  for (size_t i = 0; i < parts.size(); ++i) {
    const FieldDescriptor* f = m->GetDescriptor()->FindFieldByName(parts[i]);
    PGQRS_CHECK(f != nullptr);
    if (i + 1 == parts.size()) {
      return FieldValueText(*m, f);
    }
    PGQRS_CHECK(f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !f->is_repeated());
    if (!m->GetReflection()->HasField(*m, f)) {
      return "-";
    }
    m = &m->GetReflection()->GetMessage(*m, f);
  }
  return "-";
}

std::vector<std::pair<std::string, std::string>> FlattenFields(const Message& message) {
  std::vector<std::pair<std::string, std::string>> fields;
  Flatten(message, "", fields);
  return fields;
}

std::string ShortEnumName(const google::protobuf::EnumValueDescriptor& value) {
  std::string prefix = value.type()->value(0)->name();
  const std::string unspecified = "UNSPECIFIED";
  prefix =
      prefix.ends_with(unspecified) ? prefix.substr(0, prefix.size() - unspecified.size()) : "";
  std::string name = value.name();
  if (name.starts_with(prefix)) {
    name = name.substr(prefix.size());
  }
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return name;
}

void Printer::PrintRecords(const std::vector<std::string>& columns,
                           const std::vector<const Message*>& records) {
  if (format_ == OutputFormat::kJson) {
    for (const Message* record : records) {
      out_ << JsonLine(ProtoToJson(*record)) << '\n';
    }
    return;
  }
  std::vector<std::string> headers;
  std::transform(columns.begin(), columns.end(), std::back_inserter(headers), Header);
  std::vector<std::vector<std::string>> rows;
  for (const Message* record : records) {
    std::vector<std::string>& row = rows.emplace_back();
    for (const std::string& column : columns) {
      row.push_back(FieldText(*record, column));
    }
  }
  out_ << RenderTable(headers, rows);
}

void Printer::PrintRecord(const Message& record) {
  if (format_ == OutputFormat::kJson) {
    out_ << JsonLine(ProtoToJson(record)) << '\n';
  } else {
    out_ << RenderFields(FlattenFields(record));
  }
}

void Printer::PrintCustom(const std::vector<std::string>& headers,
                          const std::vector<std::vector<std::string>>& rows,
                          const std::vector<nlohmann::json>& objects) {
  if (format_ == OutputFormat::kJson) {
    for (const nlohmann::json& object : objects) {
      out_ << JsonLine(object) << '\n';
    }
  } else {
    out_ << RenderTable(headers, rows);
  }
}

void Printer::PrintNote(const std::string& line) {
  if (format_ == OutputFormat::kTable) {
    out_ << line << '\n';
  }
}

}  // namespace pgqrs::cli
