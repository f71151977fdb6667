#include "server/rest/proto_json.h"

#include <google/protobuf/util/json_util.h>

namespace impulse::rest {
namespace {

std::string Join(std::string_view prefix, std::string_view path) {
  if (prefix.empty()) return std::string(path);
  if (path.empty()) return std::string(prefix);
  return std::string(prefix) + "." + std::string(path);
}

// Protobuf 3.21 reports "(path) name: reason", "(path): reason",
// "name: reason", ": reason" or a multi-line syntax error; split that into
// field and reason.
Error ParseError(std::string_view status_message,
                 std::string_view field_prefix) {
  std::string_view text = status_message;
  std::string path;
  if (!text.empty() && text.front() == '(') {
    const std::size_t close = text.find(')');
    if (close != std::string_view::npos) {
      path = std::string(text.substr(1, close - 1));
      text.remove_prefix(close + 1);
      const std::size_t colon = text.find(':');
      if (colon != std::string_view::npos) {
        std::string_view name = text.substr(0, colon);
        while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
        if (!name.empty())
          path =
              path.empty() ? std::string(name) : path + "." + std::string(name);
        text.remove_prefix(colon + 1);
      }
    }
  } else if (!text.empty() && text.front() == ':') {
    text.remove_prefix(1);
  } else {
    // "name: reason" for an unknown top-level field.
    const std::size_t colon = text.find(": ");
    const std::string_view name = text.substr(0, colon);
    if (colon != std::string_view::npos && !name.empty() &&
        name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"
                               "TUVWXYZ0123456789_.[]") ==
            std::string_view::npos) {
      path = std::string(name);
      text.remove_prefix(colon + 1);
    }
  }
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  // Syntax errors end with the offending input and a caret on later lines.
  text = text.substr(0, text.find('\n'));
  std::string reason = text.empty() ? "malformed JSON" : std::string(text);
  if (reason == "Cannot find field.") reason = "unknown field";
  if (path.empty()) {
    return Error::InvalidArgument(std::string(field_prefix),
                                  "request body is not valid JSON for this "
                                  "route: " +
                                      reason);
  }
  return Error::InvalidArgument(Join(field_prefix, path), reason);
}

}  // namespace

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

Status FromJson(std::string_view json, google::protobuf::Message* out,
                std::string_view field_prefix) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), out, options);
  if (status.ok()) return {};
  const auto message = status.message();
  return ParseError(std::string_view(message.data(), message.size()),
                    field_prefix);
}

}  // namespace impulse::rest
