// PUT /v1/datasets/{name}?format=...: the request body streams into the
// dataset store piece by piece (never whole in memory), so a dataset may be
// far larger than the gateway's body limit (up to --max_dataset_bytes). The
// header is checked before the body is read (and before "100 Continue" is
// sent to a client that waits for it); a body that ends early, breaks a limit
// or fails its format check stores nothing.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "server/core/job_manager.h"
#include "server/rest/http_options.h"
#include "server/rest/http_stream.h"
#include "server/rest/http_types.h"

namespace impulse::rest {

struct UploadOutcome {
  Response response;  // the Dataset, or an error
  // The whole body was read: the connection may serve another request.
  // Otherwise the session answers and closes it.
  bool body_consumed = false;
};

// Reads the body after the head `head` has parsed, stores it under
// `header` in the tenant's datasets and says what to answer. Runs on the
// connection's strand; file writes and hashing run on the blocking pool.
template <typename Stream>
boost::asio::awaitable<UploadOutcome> ReceiveDatasetUpload(
    Stream& stream, boost::beast::flat_buffer& buffer,
    http::request_parser<http::string_body>& head,
    const Result<v1::DatasetHeader>& header, const std::string& tenant,
    core::JobManager& manager, const HttpOptions& options);

extern template boost::asio::awaitable<UploadOutcome> ReceiveDatasetUpload(
    PlainStream&, boost::beast::flat_buffer&,
    http::request_parser<http::string_body>&, const Result<v1::DatasetHeader>&,
    const std::string&, core::JobManager&, const HttpOptions&);
extern template boost::asio::awaitable<UploadOutcome> ReceiveDatasetUpload(
    TlsStream&, boost::beast::flat_buffer&,
    http::request_parser<http::string_body>&, const Result<v1::DatasetHeader>&,
    const std::string&, core::JobManager&, const HttpOptions&);

}  // namespace impulse::rest
