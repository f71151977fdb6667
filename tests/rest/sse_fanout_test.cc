// 1,000 Server-Sent Event clients on one running job: every one of them gets
// the job's events in order and ends with its terminal event once the job is
// cancelled. The clients are coroutines on one client thread.
#include <sys/resource.h>

#include <atomic>
#include <boost/asio/detached.hpp>
#include <chrono>
#include <thread>

#include "tests/rest/rest_fixture.h"

namespace impulse::testing {
namespace {

using std::chrono::steady_clock;

constexpr int kClients = 1000;

struct ClientResult {
  int status = 0;
  bool complete = false;
  std::string body;
  std::string error;
};

// One SSE client: connect, ask for the events, read until the response ends.
asio::awaitable<void> Watch(asio::ip::tcp::endpoint endpoint, std::string id,
                            ClientResult& result, std::atomic<int>& streaming) {
  try {
    beast::tcp_stream stream(co_await asio::this_coro::executor);
    // One deadline for the whole exchange: ends the test if anything stalls.
    stream.expires_after(std::chrono::seconds(120));
    co_await stream.async_connect(endpoint, asio::use_awaitable);
    http::request<http::empty_body> request{http::verb::get,
                                            "/v1/jobs/" + id + "/events", 11};
    request.set(http::field::host, "127.0.0.1");
    co_await http::async_write(stream, request, asio::use_awaitable);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    co_await http::async_read_header(stream, buffer, parser,
                                     asio::use_awaitable);
    result.status = parser.get().result_int();
    bool counted = false;
    while (!parser.is_done()) {
      co_await http::async_read_some(stream, buffer, parser,
                                     asio::use_awaitable);
      if (!counted && parser.get().body().find("\n\n") != std::string::npos) {
        counted = true;
        streaming.fetch_add(1);
      }
    }
    result.complete = true;
    result.body = std::move(parser.get().body());
  } catch (const std::exception& e) {
    result.error = e.what();
    streaming.fetch_add(1);  // do not keep the test waiting for this one
  }
}

void RaiseFileLimit(rlim_t wanted) {
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_cur >= wanted) return;
  limit.rlim_cur = std::min(wanted, limit.rlim_max);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &limit), 0);
  ASSERT_GE(limit.rlim_cur, wanted)
      << "need " << wanted << " file descriptors (client and server side)";
}

TEST_F(RestTest, AThousandEventStreamsOnOneJobAllGetTheTerminalEvent) {
  RaiseFileLimit(2 * kClients + 256);
  // One CPU thread for the job, so the clients and io threads have a core.
  ServerOptions options = DefaultOptions();
  options.manager.scheduler.cpu_threads = 1;
  StartServer(options);

  v1::Job job = Submit(LongParticlesJson());
  WaitForState(job.id(), v1::RUNNING);

  asio::io_context io;
  const asio::ip::tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"),
                                         static_cast<unsigned short>(port()));
  std::vector<ClientResult> results(kClients);
  std::atomic<int> streaming{0};
  for (int i = 0; i < kClients; ++i) {
    asio::co_spawn(io, Watch(endpoint, job.id(), results[i], streaming),
                   asio::detached);
  }
  std::thread client_thread([&io] { io.run(); });
  // On an early return (a failed ASSERT), stop the clients and join.
  struct Joiner {
    asio::io_context& io;
    std::thread& thread;
    ~Joiner() {
      if (!thread.joinable()) return;
      io.stop();
      thread.join();
    }
  } joiner{io, client_thread};

  // Wait until every client is connected and has its first event...
  const auto deadline = steady_clock::now() + std::chrono::seconds(60);
  while (streaming.load() < kClients && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(streaming.load(), kClients);
  EXPECT_EQ(Metric("impulse_http_sse_streams_active"), kClients);
  const v1::Job connected = GetJob(job.id());
  EXPECT_EQ(connected.state(), v1::RUNNING);
  // Let progress events fan out live for a while...
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  // ...then end the job: all of them must see the end.
  ASSERT_EQ(client().Post("/v1/jobs/" + job.id() + ":cancel").status, 200);
  client_thread.join();

  const v1::Job done = GetJob(job.id());
  ASSERT_EQ(done.state(), v1::CANCELLED);
  int ended_well = 0;
  for (const ClientResult& result : results) {
    ASSERT_TRUE(result.error.empty()) << result.error;
    ASSERT_EQ(result.status, 200);
    ASSERT_TRUE(result.complete);
    std::vector<SseEvent> events = ParseSse(result.body);
    ASSERT_FALSE(events.empty());
    std::uint64_t previous = 0;
    for (const SseEvent& e : events) {
      const std::uint64_t seq = std::stoull(e.id);
      ASSERT_GT(seq, previous);
      previous = seq;
    }
    EXPECT_EQ(events.front().id, "1");  // from the start: QUEUED
    // Progress that happened while every client was connected reached it.
    bool live_progress = false;
    for (const SseEvent& e : events) {
      live_progress |=
          e.event == "progress" && std::stoull(e.id) > connected.last_seq();
    }
    EXPECT_TRUE(live_progress);
    const auto last = ParseJson<v1::JobEvent>(events.back().data);
    EXPECT_EQ(last.state(), v1::CANCELLED);
    EXPECT_EQ(last.seq(), done.last_seq());
    ++ended_well;
  }
  EXPECT_EQ(ended_well, kClients);
  // Every stream coroutine has ended on the server.
  const auto settle = steady_clock::now() + std::chrono::seconds(10);
  while (Metric("impulse_http_sse_streams_active") != 0 &&
         steady_clock::now() < settle) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(Metric("impulse_http_sse_streams_active"), 0);
}

}  // namespace
}  // namespace impulse::testing
