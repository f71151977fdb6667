#include "server/rest/dataset_upload.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <memory>
#include <optional>
#include <string>

#include "server/edge/blocking_pool.h"
#include "server/rest/json_errors.h"
#include "server/rest/proto_json.h"

namespace impulse::rest {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::awaitable;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// Body bytes read per step (under the store's 1 MiB chunk limit).
constexpr std::size_t kPieceBytes = 256 << 10;

// The store names header fields as in the gRPC header message
// ("header.format"); over REST they are query parameters ("format").
Error AsQueryError(Error error) {
  constexpr std::string_view kPrefix = "header.";
  if (error.field.starts_with(kPrefix)) {
    error.field.erase(0, kPrefix.size());
  }
  return error;
}

Response TooLarge(std::uint64_t limit) {
  return HttpErrorResponse(http::status::payload_too_large, "PAYLOAD_TOO_LARGE",
                           "dataset is larger than the limit of " +
                               std::to_string(limit) +
                               " bytes (--max_dataset_bytes)");
}

}  // namespace

template <typename Stream>
awaitable<UploadOutcome> ReceiveDatasetUpload(
    Stream& stream, beast::flat_buffer& buffer,
    http::request_parser<http::string_body>& head,
    const Result<v1::DatasetHeader>& header, const std::string& tenant,
    core::JobManager& manager, const HttpOptions& options) {
  if (!header.ok()) co_return UploadOutcome{ErrorResponse(header.error())};
  const std::uint64_t limit =
      manager.datasets(tenant).options().max_dataset_bytes;
  if (head.content_length().value_or(0) > limit) {
    co_return UploadOutcome{TooLarge(limit)};
  }
  Result<std::unique_ptr<core::DatasetStore::Upload>> begun =
      manager.datasets(tenant).BeginUpload(header.value());
  if (!begun.ok()) {
    co_return UploadOutcome{ErrorResponse(AsQueryError(begun.error()))};
  }
  // Shared with the blocking pool's tasks, which outlive no await.
  std::shared_ptr<core::DatasetStore::Upload> upload = std::move(begun.value());

  boost::system::error_code ec;
  if (beast::iequals(head.get()[http::field::expect], "100-continue")) {
    static constexpr std::string_view kContinue =
        "HTTP/1.1 100 Continue\r\n\r\n";
    beast::get_lowest_layer(stream).expires_after(options.write_timeout);
    std::tie(ec, std::ignore) = co_await asio::async_write(
        stream, asio::buffer(kContinue.data(), kContinue.size()), kNoThrow);
    if (ec) co_return UploadOutcome{};
  }

  http::request_parser<http::buffer_body> body{std::move(head)};
  body.body_limit(limit);
  auto piece = std::make_shared<std::string>(kPieceBytes, '\0');
  while (!body.is_done()) {
    body.get().body().data = piece->data();
    body.get().body().size = piece->size();
    // Each piece must arrive within read_timeout (not the whole body).
    beast::get_lowest_layer(stream).expires_after(options.read_timeout);
    std::tie(ec, std::ignore) =
        co_await http::async_read(stream, buffer, body, kNoThrow);
    if (ec == http::error::need_buffer) ec = {};
    if (ec == http::error::body_limit) co_return UploadOutcome{TooLarge(limit)};
    if (ec) {
      spdlog::info(
          "dataset={} upload over HTTP ended after {} bytes: {}; "
          "nothing was stored",
          upload->header().name(), upload->size(), ec.message());
      co_return UploadOutcome{
          HttpErrorResponse(http::status::bad_request, "BAD_REQUEST",
                            "the request body ended early or was malformed (" +
                                ec.message() + "); nothing was stored")};
    }
    const std::size_t n = piece->size() - body.get().body().size;
    if (n == 0) continue;
    auto append = [upload, piece, n] {
      return upload->Append(std::string_view(piece->data(), n));
    };
    // Named first: GCC 12 destroys non-trivial temporaries of a co_await
    // expression twice.
    awaitable<Status> appending =
        edge::OnBlockingPool<Status>(std::move(append));
    Status appended = co_await std::move(appending);
    if (!appended.ok()) {
      co_return UploadOutcome{ErrorResponse(AsQueryError(appended.error()))};
    }
  }
  auto commit = [upload] { return std::optional(upload->Commit()); };
  awaitable<std::optional<Result<v1::Dataset>>> committing =
      edge::OnBlockingPool<std::optional<Result<v1::Dataset>>>(
          std::move(commit));
  std::optional<Result<v1::Dataset>> committed = co_await std::move(committing);
  if (!committed->ok()) {
    co_return UploadOutcome{ErrorResponse(AsQueryError(committed->error())),
                            true};
  }
  co_return UploadOutcome{
      JsonResponse(http::status::ok, ToJson(committed->value())), true};
}

template awaitable<UploadOutcome> ReceiveDatasetUpload(
    PlainStream&, beast::flat_buffer&, http::request_parser<http::string_body>&,
    const Result<v1::DatasetHeader>&, const std::string&, core::JobManager&,
    const HttpOptions&);
template awaitable<UploadOutcome> ReceiveDatasetUpload(
    TlsStream&, beast::flat_buffer&, http::request_parser<http::string_body>&,
    const Result<v1::DatasetHeader>&, const std::string&, core::JobManager&,
    const HttpOptions&);

}  // namespace impulse::rest
