// REST load: one thread per client, each with its own keep-alive HTTP/1.1
// connection (Boost.Beast, synchronous). Run mode posts /v1/jobs:run and reads
// the Server-Sent Events to the end; submit_watch posts /v1/jobs, then reads
// /v1/jobs/{id}/events; submit only posts.
#include <google/protobuf/util/json_util.h>
#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/load/driver.h"

namespace impulse::load {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// The state of the last `state_changed` event of an SSE body, or "".
std::string LastState(const std::string& body) {
  const std::size_t event = body.rfind("event: state_changed");
  if (event == std::string::npos) return "";
  const std::string key = "\"state\":\"";
  const std::size_t at = body.find(key, event);
  if (at == std::string::npos) return "";
  const std::size_t end = body.find('"', at + key.size());
  if (end == std::string::npos) return "";
  return body.substr(at + key.size(), end - at - key.size());
}

std::string JsonField(const std::string& body, const std::string& name) {
  const std::string key = "\"" + name + "\":\"";
  const std::size_t at = body.find(key);
  if (at == std::string::npos) return "";
  const std::size_t end = body.find('"', at + key.size());
  if (end == std::string::npos) return "";
  return body.substr(at + key.size(), end - at - key.size());
}

class RestClient {
 public:
  RestClient(const LoadOptions& options, const v1::JobSpec& base_spec,
             IssueGate& gate, Clock::time_point start, std::string host,
             std::string port)
      : options_(options),
        spec_(base_spec),
        gate_(gate),
        start_(start),
        host_(std::move(host)),
        port_(std::move(port)) {
    recorder_.set_counted_from(gate.plan().warm_end - start);
  }

  void Run() {
    while (std::optional<std::uint64_t> index = gate_.Next()) {
      OneJob(*index);
    }
  }
  Recorder& recorder() { return recorder_; }

 private:
  struct Reply {
    int status = 0;
    std::string body;
    Clock::time_point head_at;
  };

  bool EnsureConnected() {
    if (socket_.is_open()) return true;
    boost::system::error_code ec;
    tcp::resolver resolver(io_);
    auto endpoints = resolver.resolve(host_, port_, ec);
    if (ec) return false;
    asio::connect(socket_, endpoints, ec);
    if (ec) {
      socket_.close();
      return false;
    }
    socket_.set_option(tcp::no_delay(true), ec);
    return true;
  }

  // Socket timeouts bound every blocking read and write of this job.
  void SetTimeouts() {
    const Clock::time_point now = Clock::now();
    auto limit = std::chrono::duration<double>(options_.rpc_timeout_s);
    auto to_end = gate_.plan().hard_end - now;
    auto wait = std::min<Clock::duration>(
        std::chrono::duration_cast<Clock::duration>(limit), to_end);
    const auto us = std::max<std::int64_t>(
        1000,
        std::chrono::duration_cast<std::chrono::microseconds>(wait).count());
    timeval tv{static_cast<time_t>(us / 1'000'000),
               static_cast<suseconds_t>(us % 1'000'000)};
    setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv,
               sizeof(tv));
    setsockopt(socket_.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv,
               sizeof(tv));
  }

  // One request and its whole answer; false on a transport failure (the
  // reason goes to `error`).
  bool Exchange(http::verb verb, const std::string& target,
                const std::string& body, Reply* reply, std::string* error) {
    if (!EnsureConnected()) {
      *error = "CONNECT_FAILED";
      return false;
    }
    SetTimeouts();
    http::request<http::string_body> request{verb, target, 11};
    request.set(http::field::host, host_);
    if (!body.empty()) {
      request.set(http::field::content_type, "application/json");
      request.body() = body;
    }
    request.prepare_payload();
    boost::system::error_code ec;
    http::write(socket_, request, ec);
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    if (!ec) http::read_header(socket_, buffer_, parser, ec);
    reply->head_at = Clock::now();
    if (!ec) http::read(socket_, buffer_, parser, ec);
    if (ec) {
      *error = Clock::now() >= gate_.plan().hard_end ? "" : "TRANSPORT_ERROR";
      socket_.close();
      buffer_.clear();
      return false;
    }
    reply->status = parser.get().result_int();
    reply->body = std::move(parser.get().body());
    if (!parser.get().keep_alive()) {
      socket_.close();
      buffer_.clear();
    }
    return true;
  }

  void OneJob(std::uint64_t index) {
    SpecForJob(options_, index, &spec_);
    std::string json;
    (void)google::protobuf::util::MessageToJsonString(spec_, &json);
    const Clock::time_point start = Clock::now();
    const auto since = [&](Clock::time_point t) { return t - start_; };
    Reply reply;
    std::string error;
    const bool run = options_.mode == Mode::kRun;
    if (!Exchange(http::verb::post, run ? "/v1/jobs:run" : "/v1/jobs", json,
                  &reply, &error)) {
      Fail(error, since(start));
      return;
    }
    if (reply.status != 200) {
      recorder_.Error("HTTP_" + std::to_string(reply.status), since(start));
      return;
    }
    Clock::time_point submitted = reply.head_at;
    if (options_.mode == Mode::kSubmit) {
      recorder_.Ok(since(start), since(submitted), since(Clock::now()));
      return;
    }
    if (!run) {
      submitted = Clock::now();
      const std::string id = JsonField(reply.body, "id");
      if (!Exchange(http::verb::get, "/v1/jobs/" + id + "/events", "", &reply,
                    &error)) {
        Fail(error, since(start));
        return;
      }
      if (reply.status != 200) {
        recorder_.Error("HTTP_" + std::to_string(reply.status), since(start));
        return;
      }
    }
    const Clock::time_point ended = Clock::now();
    const std::string state = LastState(reply.body);
    if (state == "SUCCEEDED") {
      recorder_.Ok(since(start), since(submitted), since(ended));
    } else {
      recorder_.Error(state.empty() ? "STREAM_ENDED_EARLY" : "JOB_" + state,
                      since(start));
    }
  }

  void Fail(const std::string& error, Clock::duration start) {
    if (error.empty()) {
      recorder_.CutOff();
    } else {
      recorder_.Error(error, start);
    }
  }

  const LoadOptions& options_;
  v1::JobSpec spec_;
  IssueGate& gate_;
  const Clock::time_point start_;
  const std::string host_, port_;
  asio::io_context io_;
  tcp::socket socket_{io_};
  beast::flat_buffer buffer_;
  Recorder recorder_{1 << 12};
};

class RestDriver final : public LoadDriver {
 public:
  RestDriver(const LoadOptions& options, const v1::JobSpec& base_spec)
      : options_(options), base_spec_(base_spec) {
    const std::string& target = options_.http_target;
    std::string_view hostport = target;
    const std::size_t colon = hostport.rfind(':');
    host_ = std::string(hostport.substr(0, colon));
    if (host_.starts_with("[") && host_.ends_with("]")) {
      host_ = host_.substr(1, host_.size() - 2);
    }
    port_ = std::string(hostport.substr(colon + 1));
  }

  std::string Connect() override {
    asio::io_context io;
    tcp::socket socket(io);
    boost::system::error_code ec;
    tcp::resolver resolver(io);
    auto endpoints = resolver.resolve(host_, port_, ec);
    if (!ec) asio::connect(socket, endpoints, ec);
    if (ec) {
      return "cannot connect to " + options_.http_target + ": " + ec.message();
    }
    return "";
  }

  void Start(const RunPlan& plan) override {
    gate_.emplace(plan);
    for (int i = 0; i < options_.clients; ++i) {
      clients_.push_back(std::make_unique<RestClient>(
          options_, base_spec_, *gate_, plan.start, host_, port_));
    }
    for (auto& client : clients_) {
      threads_.emplace_back([c = client.get()] { c->Run(); });
    }
  }

  Recorder Wait() override {
    for (std::thread& thread : threads_) thread.join();
    Recorder merged(0);
    for (auto& client : clients_) merged.Merge(client->recorder());
    return merged;
  }

 private:
  const LoadOptions& options_;
  const v1::JobSpec& base_spec_;
  std::string host_, port_;
  std::optional<IssueGate> gate_;
  std::vector<std::unique_ptr<RestClient>> clients_;
  std::vector<std::thread> threads_;
};

}  // namespace

std::unique_ptr<LoadDriver> MakeRestDriver(const LoadOptions& options,
                                           const v1::JobSpec& base_spec) {
  return std::make_unique<RestDriver>(options, base_spec);
}

}  // namespace impulse::load
