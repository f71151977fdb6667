// The two kinds of connection the gateway serves: plain HTTP over TCP, and
// HTTPS (TLS over TCP, with --tls_cert/--tls_key). The session code is
// written once as templates on the stream type and explicitly instantiated
// for both. Timeouts, the socket and closing always act on the TCP stream
// underneath (beast::get_lowest_layer), which is the stream itself when
// plain.
#pragma once

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <type_traits>

namespace impulse::rest {

using PlainStream = boost::beast::tcp_stream;
using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

template <typename Stream>
inline constexpr bool kIsTls = std::is_same_v<Stream, TlsStream>;

}  // namespace impulse::rest
