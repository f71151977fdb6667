#include "server/rest/sse_stream.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/write.hpp>
#include <limits>
#include <memory>
#include <optional>

#include "server/core/event_log.h"
#include "server/rest/proto_json.h"

namespace impulse::rest {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::awaitable;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// Events written per read of the log before checking for newer ones.
constexpr std::size_t kBatch = 64;
// A batch's text stops growing past this, so a stream whose client stopped
// reading holds little while its write waits (snapshot events are ~40 KB of
// JSON each).
constexpr std::size_t kBatchBytes = 64 << 10;
constexpr std::size_t kReadSize = 4096;

bool IsTerminalEvent(const v1::JobEvent& event) {
  return event.type() == v1::STATE_CHANGED && core::IsTerminal(event.state());
}

// Shared by the streaming coroutine, the close watcher and the parked log
// wait. Everything but `abandoned` is touched only on the connection's strand.
struct WatchState {
  explicit WatchState(const asio::any_io_executor& ex)
      : wake(ex), reader_exit(ex) {}
  // The streaming coroutine sleeps on this (heartbeat interval); cancelling
  // it wakes the coroutine early.
  asio::steady_timer wake;
  asio::steady_timer reader_exit;
  // Read by the log's waiter predicate (any thread).
  std::atomic<bool> abandoned{false};
  bool wait_pending = false;        // a wait is parked on the event log
  bool close_wait_pending = false;  // a wait for the log's close is parked
  bool log_ready = false;           // that wait completed: read the log again
  bool client_gone = false;         // the read beside the stream failed
  bool finishing = false;           // the stream ended; the read was cancelled
  bool reader_done = false;
};

// Ends the stream's rate-limiting sleep when the log closes or the stream is
// abandoned: parks on the log (no event is newer than the largest sequence
// number, so only those wake it for good) and parks again after the wake-up
// of an ordinary append. Runs on the connection's strand.
void ParkUntilClosed(std::shared_ptr<core::JobRecord> job,
                     std::shared_ptr<WatchState> state,
                     const asio::any_io_executor& ex) {
  state->close_wait_pending = true;
  core::EventLog& log = job->events();
  log.AsyncWaitAfter(
      std::numeric_limits<std::uint64_t>::max(), &state->abandoned,
      asio::bind_executor(ex, [job, state, ex] {
        if (!job->events().closed() && !state->abandoned.load()) {
          ParkUntilClosed(job, state, ex);
          return;
        }
        state->close_wait_pending = false;
        state->wake.cancel();
      }));
}

// Reads while the stream runs: a failed read means the client left (or the
// server is stopping). Data is kept in `buffer` for the next request.
template <typename Stream>
awaitable<void> WatchForClose(Stream& stream, beast::flat_buffer& buffer,
                              std::shared_ptr<WatchState> state,
                              core::EventLog* log, std::size_t max_pipelined) {
  boost::system::error_code ec;
  std::size_t n = 0;
  for (;;) {
    std::tie(ec, n) =
        co_await stream.async_read_some(buffer.prepare(kReadSize), kNoThrow);
    if (!ec) buffer.commit(n);
    if (state->finishing) break;  // the stream ended; this read was cancelled
    if (!ec && buffer.size() <= max_pipelined) continue;
    // The client left, the server is stopping, or the client sent more than
    // a pipelined request's worth while streaming: end the stream.
    state->client_gone = true;
    state->abandoned.store(true);
    if (state->wait_pending) log->WakeAll();
    state->wake.cancel();
    break;
  }
  state->reader_done = true;
  state->reader_exit.cancel();
}

template <typename Stream>
awaitable<bool> WriteBody(Stream& stream, std::string_view text, bool chunked,
                          const HttpOptions& options) {
  // A read is pending beside this write, so only the write timer changes.
  beast::get_lowest_layer(stream).expires_after(options.write_timeout);
  boost::system::error_code ec;
  if (chunked) {
    std::tie(ec, std::ignore) = co_await asio::async_write(
        stream, http::make_chunk(asio::buffer(text.data(), text.size())),
        kNoThrow);
  } else {
    std::tie(ec, std::ignore) = co_await asio::async_write(
        stream, asio::buffer(text.data(), text.size()), kNoThrow);
  }
  co_return !ec;
}

}  // namespace

std::string FormatSseEvent(const v1::JobEvent& event) {
  std::string out = "id: " + std::to_string(event.seq()) + "\nevent: ";
  out += event.type() == v1::PROGRESS ? "progress" : "state_changed";
  out += "\ndata: ";
  out += ToJson(event);
  out += "\n\n";
  return out;
}

template <typename Stream>
awaitable<bool> ServeEventStream(Stream& stream, beast::flat_buffer& buffer,
                                 const Request& request, EventStreamReply reply,
                                 const HttpOptions& options,
                                 HttpMetrics& metrics, SseTextCache& texts) {
  const asio::any_io_executor ex = co_await asio::this_coro::executor;
  PlainStream& tcp = beast::get_lowest_layer(stream);
  const bool chunked = request.version() >= 11;

  http::response<http::empty_body> head{http::status::ok, request.version()};
  head.set(http::field::server, "impulsed");
  head.set(http::field::content_type, "text/event-stream");
  head.set(http::field::cache_control, "no-cache");
  head.set("X-Accel-Buffering", "no");  // tell nginx not to buffer
  if (chunked) {
    head.chunked(true);
    head.keep_alive(request.keep_alive());
  } else {
    head.keep_alive(false);  // HTTP/1.0: the body ends at the close
  }
  http::response_serializer<http::empty_body> serializer{head};
  tcp.expires_after(options.write_timeout);
  // (Plain variables, not structured bindings, hold co_await results here:
  // GCC 12 mis-compiles some of those forms in coroutines.)
  boost::system::error_code ec;
  std::tie(ec, std::ignore) =
      co_await http::async_write_header(stream, serializer, kNoThrow);
  if (ec) co_return false;

  metrics.StreamStarted();
  if (options.on_stream) options.on_stream(+1);
  core::EventLog& log = reply.job->events();
  const std::shared_ptr<JobEventTexts> job_texts = texts.For(*reply.job);
  auto state = std::make_shared<WatchState>(ex);
  tcp.expires_never();  // the close watcher's read waits without limit
  // Spawned onto the connection's strand, like this coroutine, so the two
  // never run at once.
  asio::co_spawn(
      ex, WatchForClose(stream, buffer, state, &log, options.max_header_bytes),
      [](std::exception_ptr e) {
        if (e == nullptr) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& error) {
          spdlog::warn("http sse close watcher failed: {}", error.what());
        }
      });

  std::uint64_t after_seq = reply.after_seq;
  bool finished = false;  // the terminal event went out
  bool ok = true;         // every write succeeded
  std::optional<asio::steady_timer::time_point> last_batch;
  while (!state->client_gone) {
    // At most one batch per sse_min_interval (see HttpOptions), except the
    // last: once the log is closed nothing more can arrive to batch with, so
    // the terminal event goes out at once (a short job ends in about a
    // millisecond instead of a whole interval).
    if (last_batch.has_value() && !log.closed() &&
        asio::steady_timer::clock_type::now() <
            *last_batch + options.sse_min_interval) {
      if (!state->close_wait_pending) ParkUntilClosed(reply.job, state, ex);
      state->wake.expires_at(*last_batch + options.sse_min_interval);
      std::tie(ec) = co_await state->wake.async_wait(kNoThrow);
      if (state->client_gone) break;
    }
    std::string text;
    {
      // The events go out of scope before the write: only `text` is held
      // while it waits.
      const std::vector<v1::JobEvent> events = log.ReadAfter(after_seq, kBatch);
      for (const v1::JobEvent& event : events) {
        text += *job_texts->Text(event);
        after_seq = event.seq();
        if (IsTerminalEvent(event)) {
          finished = true;
          break;
        }
        if (text.size() >= kBatchBytes) break;
      }
    }
    if (!text.empty()) {
      last_batch = asio::steady_timer::clock_type::now();
      ok = co_await WriteBody(stream, text, chunked, options);
      if (!ok || finished) break;
      continue;
    }
    // Closed with nothing newer: the terminal event was already sent.
    if (log.closed() && after_seq >= log.last_seq()) {
      finished = true;
      break;
    }
    if (!state->wait_pending && !state->log_ready) {
      state->wait_pending = true;
      // Completes on this strand when a newer event exists, the log closes
      // or (after WakeAll) this stream was abandoned.
      log.AsyncWaitAfter(after_seq, &state->abandoned,
                         asio::bind_executor(ex, [state] {
                           state->wait_pending = false;
                           state->log_ready = true;
                           state->wake.cancel();
                         }));
    }
    if (!state->log_ready) {
      state->wake.expires_after(options.sse_heartbeat);
      std::tie(ec) = co_await state->wake.async_wait(kNoThrow);
      if (!ec && !state->client_gone && !state->log_ready) {
        // The job was quiet for a whole interval.
        ok = co_await WriteBody(stream, kSseHeartbeat, chunked, options);
        if (!ok) break;
      }
    }
    state->log_ready = false;
  }

  if (finished && ok && chunked && !state->client_gone) {
    tcp.expires_after(options.write_timeout);
    std::tie(ec, std::ignore) =
        co_await asio::async_write(stream, http::make_chunk_last(), kNoThrow);
    ok = !ec;
  }
  // Stop the close watcher (it uses `stream` and `buffer`) and wait for it.
  state->finishing = true;
  if (!state->reader_done) {
    boost::system::error_code ignored;
    tcp.socket().cancel(ignored);
    state->reader_exit.expires_at(asio::steady_timer::time_point::max());
    co_await state->reader_exit.async_wait(kNoThrow);
  }
  // Release a wait still parked on the log.
  state->abandoned.store(true);
  if (state->wait_pending || state->close_wait_pending) log.WakeAll();
  metrics.StreamEnded();
  if (options.on_stream) options.on_stream(-1);
  const bool reusable =
      finished && ok && chunked && !state->client_gone && request.keep_alive();
  co_return reusable;
}

template awaitable<bool> ServeEventStream(PlainStream&, beast::flat_buffer&,
                                          const Request&, EventStreamReply,
                                          const HttpOptions&, HttpMetrics&,
                                          SseTextCache&);
template awaitable<bool> ServeEventStream(TlsStream&, beast::flat_buffer&,
                                          const Request&, EventStreamReply,
                                          const HttpOptions&, HttpMetrics&,
                                          SseTextCache&);

}  // namespace impulse::rest
