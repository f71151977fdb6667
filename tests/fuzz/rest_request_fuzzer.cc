// The REST request path as a connection sees it: raw bytes through Beast's
// request parser (with the gateway's header and body limits, pipelined
// requests one after another), then rest::Router::Handle, then the answer
// serialised as the session would send it (chunked bodies drained, SSE
// events formatted).
//
// The router works over a real JobManager holding two finished jobs (a pi
// job and a particles job whose result streams in chunks); the tokens @J1
// and @J2 in an input stand for their ids. New submissions are validated and
// then refused (the manager is draining), so no input starts work.
//
// Oracle: no crash, no exception out of the router, never a 500, every
// answer has a status the gateway documents, error bodies have the one
// error shape, and no header value carries CR or LF (no response splitting).
#include <boost/asio/buffer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <variant>

#include "server/core/event_log.h"
#include "server/core/job_manager.h"
#include "server/rest/http_metrics.h"
#include "server/rest/http_options.h"
#include "server/rest/router.h"
#include "server/rest/sse_stream.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using impulse::fuzz::Printable;
using impulse::rest::Request;
using impulse::rest::Response;

constexpr int kMaxRequestsPerInput = 4;
constexpr std::size_t kMaxChunkedBytes = 1 << 20;

struct World {
  impulse::core::JobManager* manager = nullptr;
  impulse::rest::HttpOptions* options = nullptr;
  impulse::rest::HttpMetrics* metrics = nullptr;
  impulse::rest::Router* router = nullptr;
  std::string pi_id;
  std::string particles_id;
};

World& TheWorld() {
  static World world;
  return world;
}

std::string SubmitAndWait(impulse::core::JobManager& manager,
                          const impulse::v1::JobSpec& spec) {
  auto job = manager.Submit(spec);
  if (!job.ok()) {
    std::fprintf(stderr, "setup: %s\n", job.error().ToString().c_str());
    std::abort();
  }
  while (!impulse::core::IsTerminal(job.value()->state())) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return job.value()->id();
}

// Objects live for the whole process (never destroyed: no exit-time order
// problems, and LeakSanitizer sees them as reachable).
void Setup() {
  World& w = TheWorld();
  impulse::core::JobManagerOptions manager_options;
  manager_options.scheduler.cpu_threads = 1;
  manager_options.result_cache_bytes = 0;
  w.manager = new impulse::core::JobManager(manager_options);
  w.options = new impulse::rest::HttpOptions();
  w.options->max_body_bytes = 64 << 10;  // the real limit is 16 MiB
  w.options->result_chunk_bytes = 64;    // so the particles result streams
  w.metrics = new impulse::rest::HttpMetrics();
  w.router = new impulse::rest::Router(*w.manager, *w.options, *w.metrics,
                                       [] { return true; });
  impulse::v1::JobSpec pi;
  pi.mutable_pi()->set_samples(1000);
  pi.mutable_pi()->set_seed(7);
  w.pi_id = SubmitAndWait(*w.manager, pi);
  impulse::v1::JobSpec particles;
  particles.mutable_particles()->set_random_particles(20);
  particles.mutable_particles()->set_t_end(0.001);
  w.particles_id = SubmitAndWait(*w.manager, particles);
  w.manager->BeginDrain();
}

std::string Substitute(std::string text) {
  const World& w = TheWorld();
  for (auto [token, id] :
       {std::pair<std::string_view, const std::string*>{"@J1", &w.pi_id},
        {"@J2", &w.particles_id}}) {
    for (std::size_t at = text.find(token); at != std::string::npos;
         at = text.find(token, at + id->size())) {
      text.replace(at, token.size(), *id);
    }
  }
  return text;
}

void CheckHeaders(const http::fields& fields) {
  for (const auto& field : fields) {
    const std::string_view value(field.value().data(), field.value().size());
    FUZZ_CHECK(value.find_first_of("\r\n") == std::string_view::npos)
        << "header " << std::string(field.name_string()) << " carries a "
        << "line break: '" << Printable(value) << "'";
  }
}

void CheckResponse(const Request& request, Response& res) {
  const int status = res.result_int();
  FUZZ_CHECK(status != 500)
      << "500 for " << request.method_string() << " "
      << Printable(request.target()) << ": " << Printable(res.body());
  FUZZ_CHECK(status == 200 || status == 204 || status == 304 || status == 400 ||
             status == 404 || status == 405 || status == 409 || status == 412 ||
             status == 429 || status == 503)
      << "unexpected status " << status << " for " << request.method_string()
      << " " << Printable(request.target());
  if (status >= 400 &&
      res[http::field::content_type].starts_with("application/json")) {
    const std::string& body = res.body();
    FUZZ_CHECK(body.starts_with("{\"error\":{\"code\":\"") &&
               body.find("\"message\":\"") != std::string::npos &&
               body.ends_with("}}"))
        << "error body not in the error shape: " << Printable(body);
  }
  CheckHeaders(res.base());
  // Serialise it as the session does.
  res.version(request.version());
  res.keep_alive(request.keep_alive());
  res.prepare_payload();
  http::response_serializer<http::string_body> serializer{res};
  beast::error_code ec;
  std::size_t bytes = 0;
  while (!serializer.is_done() && !ec) {
    serializer.next(ec, [&](beast::error_code&, const auto& buffers) {
      const std::size_t n = boost::asio::buffer_size(buffers);
      bytes += n;
      serializer.consume(n);
    });
  }
  FUZZ_CHECK(!ec) << "cannot serialise the answer: " << ec.message();
}

void Answer(const Request& request) {
  impulse::rest::Routed routed = TheWorld().router->HandleBlocking(request);
  FUZZ_CHECK(!routed.route.empty()) << "no route label";
  if (auto* res = std::get_if<Response>(&routed.reply)) {
    CheckResponse(request, *res);
  } else if (auto* chunked =
                 std::get_if<impulse::rest::ChunkedReply>(&routed.reply)) {
    FUZZ_CHECK(chunked->head.result_int() == 200)
        << "chunked answer with status " << chunked->head.result_int();
    CheckHeaders(chunked->head.base());
    std::size_t total = 0;
    while (std::optional<std::string> piece = chunked->next_piece()) {
      total += piece->size();
      FUZZ_CHECK(total < kMaxChunkedBytes) << "chunked answer never ends";
    }
  } else {
    auto& stream = std::get<impulse::rest::EventStreamReply>(routed.reply);
    FUZZ_CHECK(stream.job != nullptr) << "event stream without a job";
    for (const impulse::v1::JobEvent& event :
         stream.job->events().ReadAfter(stream.after_seq, 1000)) {
      const std::string text = impulse::rest::FormatSseEvent(event);
      FUZZ_CHECK(text.ends_with("\n\n") && text.find("\n\n") == text.size() - 2)
          << "SSE framing broken: " << Printable(text);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  Setup();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const std::string input =
      Substitute(std::string(reinterpret_cast<const char*>(data), size));
  std::string_view rest = input;
  const impulse::rest::HttpOptions& options = *TheWorld().options;
  for (int n = 0; n < kMaxRequestsPerInput && !rest.empty(); ++n) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
    parser.body_limit(options.max_body_bytes);
    parser.eager(true);
    beast::error_code ec;
    // Feed it the way Beast's reads do: all that is there, and after
    // need_more only more data, never the same bytes again (the parser
    // asserts on that: a chunked body cut after its last chunk's "0\r\n"
    // tripped it). Here no more data comes, so EOF follows.
    while (!rest.empty() && !parser.is_done()) {
      const std::size_t used =
          parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
      rest.remove_prefix(used);
      if (ec == http::error::need_more) {
        ec = {};
        break;
      }
      if (ec) break;
    }
    if (!ec && !parser.is_done()) parser.put_eof(ec);
    if (ec || !parser.is_done()) return 0;  // the session answers 400/413/431
    Request request = parser.release();
    Answer(request);
    if (!request.keep_alive()) break;
  }
  return 0;
}
