#include "server/rest/dataset_routes.h"

#include <algorithm>
#include <cctype>

#include "server/rest/json_errors.h"
#include "server/rest/proto_json.h"

namespace impulse::rest {
namespace {

template <typename Message>
Reply JsonReply(const Result<Message>& answer) {
  if (!answer.ok()) return ErrorResponse(answer.error());
  return JsonResponse(http::status::ok, ToJson(answer.value()));
}

Status NoQuery(const Target& target) {
  if (target.query.empty()) return {};
  return UnknownParameter(target.query.front().first, "no parameters");
}

}  // namespace

Reply DatasetRoutes::List(const Target& target,
                          const std::string& tenant) const {
  if (Status status = NoQuery(target); !status.ok()) {
    return ErrorResponse(status.error());
  }
  return JsonReply(manager_.ListDatasets(tenant));
}

Reply DatasetRoutes::Get(std::string_view name,
                         const std::string& tenant) const {
  if (!manager_.datasets(tenant).enabled()) {
    return JsonReply(manager_.ListDatasets(tenant));  // its kFailedPrecondition
  }
  return JsonReply(manager_.datasets(tenant).Find(name, "name"));
}

Reply DatasetRoutes::Delete(std::string_view name,
                            const std::string& tenant) const {
  return JsonReply(manager_.DeleteDataset(std::string(name), tenant));
}

Reply DatasetRoutes::Query(std::string_view index, const Target& target,
                           const std::string& tenant) const {
  v1::QueryRequest request;
  request.set_index_name(std::string(index));
  bool has_query = false;
  for (const auto& [name, value] : target.query) {
    if (name == "q") {
      request.set_query(value);
      has_query = true;
    } else if (name == "offset" || name == "limit") {
      Result<std::uint32_t> n = ParseInt<std::uint32_t>(value, name);
      if (!n.ok()) return ErrorResponse(n.error());
      name == "offset" ? request.set_offset(n.value())
                       : request.set_limit(n.value());
    } else {
      return ErrorResponse(UnknownParameter(name, "q, offset and limit"));
    }
  }
  if (!has_query) {
    return ErrorResponse(Error::InvalidArgument(
        "q", "missing; e.g. ?q=apple%20AND%20NOT%20banana"));
  }
  return JsonReply(manager_.Query(request, tenant));
}

Reply DatasetRoutes::Complete(std::string_view index, const Target& target,
                              const std::string& tenant) const {
  v1::CompleteRequest request;
  request.set_index_name(std::string(index));
  for (const auto& [name, value] : target.query) {
    if (name == "prefix") {
      request.set_prefix(value);
    } else if (name == "n") {
      Result<std::uint32_t> n = ParseInt<std::uint32_t>(value, name);
      if (!n.ok()) return ErrorResponse(n.error());
      request.set_n(n.value());
    } else {
      return ErrorResponse(UnknownParameter(name, "prefix and n"));
    }
  }
  return JsonReply(manager_.Complete(request, tenant));
}

Result<v1::DatasetHeader> DatasetRoutes::UploadHeader(std::string_view name,
                                                      const Target& target) {
  v1::DatasetHeader header;
  header.set_name(std::string(name));
  for (const auto& [key, value] : target.query) {
    if (key == "format") {
      std::string upper = value;
      std::transform(upper.begin(), upper.end(), upper.begin(),
                     [](unsigned char c) { return std::toupper(c); });
      v1::DatasetFormat format;
      if (!v1::DatasetFormat_Parse(upper, &format) ||
          format == v1::DATASET_FORMAT_UNSPECIFIED) {
        return Error::InvalidArgument(
            "format", "unknown format '" + value.substr(0, 64) +
                          "'; use text, csv, points_f64 or points_csv");
      }
      header.set_format(format);
    } else if (key == "dims") {
      Result<std::uint32_t> dims = ParseInt<std::uint32_t>(value, "dims");
      if (!dims.ok()) return dims.error();
      header.set_dims(dims.value());
    } else if (key == "sha256") {
      header.set_sha256(value);
    } else {
      return UnknownParameter(key, "format, dims and sha256");
    }
  }
  if (header.format() == v1::DATASET_FORMAT_UNSPECIFIED) {
    return Error::InvalidArgument(
        "format",
        "missing; e.g. ?format=text (or csv, points_f64, points_csv)");
  }
  return header;
}

}  // namespace impulse::rest
