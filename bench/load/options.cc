#include "bench/load/options.h"

#include <arpa/inet.h>
#include <google/protobuf/util/json_util.h>

#include <charconv>
#include <fstream>
#include <sstream>

namespace impulse::load {
namespace {

// Port after the last ':' of `hostport`; -1 when missing or bad.
int ParsePort(std::string_view text) {
  int port = -1;
  auto [ptr, ec] =
      std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || ptr != text.data() + text.size() || port < 0 ||
      port > 65535) {
    return -1;
  }
  return port;
}

bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost" || host == "ip6-localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    // ::ffff:127.x.y.z
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

}  // namespace

const char* ModeName(Mode mode) {
  switch (mode) {
    case Mode::kRun:
      return "run";
    case Mode::kExecute:
      return "execute";
    case Mode::kSubmitWatch:
      return "submit_watch";
    case Mode::kSubmit:
      return "submit";
    case Mode::kWatch:
      return "watch";
    case Mode::kBurst:
      return "burst";
  }
  return "?";
}

const char* ProtocolName(Protocol protocol) {
  return protocol == Protocol::kGrpc ? "grpc" : "rest";
}

bool IsLoopbackTarget(const std::string& target, int* port) {
  *port = 0;
  std::string_view rest = target;
  if (rest.starts_with("unix:") || rest.starts_with("unix-abstract:")) {
    return true;
  }
  if (rest.starts_with("ipv4:")) rest.remove_prefix(5);
  if (rest.starts_with("ipv6:")) rest.remove_prefix(5);
  if (rest.starts_with("dns:///")) rest.remove_prefix(7);
  std::string host;
  if (rest.starts_with("[")) {
    const std::size_t close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() ||
        rest[close + 1] != ':') {
      return false;
    }
    host = std::string(rest.substr(1, close - 1));
    rest.remove_prefix(close + 2);
  } else {
    const std::size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) return false;
    host = std::string(rest.substr(0, colon));
    if (host.find(':') != std::string::npos) return false;  // bare IPv6
    rest.remove_prefix(colon + 1);
  }
  const int parsed = ParsePort(rest);
  if (parsed <= 0) return false;
  *port = parsed;
  return IsLoopbackHost(host);
}

std::string BuildBaseSpec(const LoadOptions& options, v1::JobSpec* spec) {
  spec->Clear();
  if (options.workload == "tiny") {
    spec->mutable_pi()->set_samples(1'000);
  } else if (options.workload == "medium") {
    spec->mutable_pi()->set_samples(10'000'000);
  } else if (options.workload == "book") {
    spec->mutable_particles()->set_random_particles(1'000);
    spec->mutable_particles()->set_t_end(0.1);
  } else if (options.workload == "spec") {
    std::string json = options.spec_json;
    if (json.starts_with("@")) {
      std::ifstream in(json.substr(1));
      if (!in) return "--spec: cannot read " + json.substr(1);
      std::ostringstream text;
      text << in.rdbuf();
      json = text.str();
    }
    const auto status = google::protobuf::util::JsonStringToMessage(json, spec);
    if (!status.ok()) {
      return "--spec: not a JobSpec in protobuf JSON: " +
             std::string(status.message());
    }
    if (spec->kind_case() == v1::JobSpec::KIND_NOT_SET) {
      return "--spec: no job kind set (e.g. {\"pi\": {\"samples\": \"1000\"}})";
    }
  } else {
    return "--workload: '" + options.workload +
           "' is not one of tiny, medium, book, spec";
  }
  return "";
}

void SpecForJob(const LoadOptions& options, std::uint64_t index,
                v1::JobSpec* spec) {
  const std::uint64_t seed =
      options.same_seed ? options.seed : options.seed + index;
  if (spec->has_pi()) spec->mutable_pi()->set_seed(seed);
  if (spec->has_particles() && spec->particles().random_particles() > 0) {
    spec->mutable_particles()->set_seed(seed);
  }
  if (!options.allow_cache) spec->set_no_cache(true);
}

std::string Validate(const LoadOptions& options) {
  int port = 0;
  const std::string& target = options.protocol == Protocol::kGrpc
                                  ? options.target
                                  : options.http_target;
  if (!IsLoopbackTarget(target, &port)) {
    return "target '" + target +
           "' is not a loopback HOST:PORT (localhost, 127.0.0.0/8, [::1]); "
           "this tool only loads servers on this machine";
  }
  if (options.protocol == Protocol::kRest && port == 0) {
    return "--http_target: REST needs HOST:PORT";
  }
  if (!(options.duration_s > 0 && options.duration_s <= kMaxDurationSeconds)) {
    return "--duration: must be in (0, 600] seconds";
  }
  if (!(options.warmup_s >= 0 && options.warmup_s <= kMaxWarmupSeconds &&
        options.warmup_s < options.duration_s)) {
    return "--warmup: must be in [0, 60] seconds and below --duration";
  }
  if (!(options.drain_s >= 0 && options.drain_s <= kMaxDrainSeconds)) {
    return "--drain: must be in [0, 60] seconds";
  }
  if (!(options.rpc_timeout_s > 0 && options.rpc_timeout_s <= 3600)) {
    return "--rpc_timeout: must be in (0, 3600] seconds";
  }
  if (options.jobs > kMaxJobs) return "--jobs: at most 10,000,000";
  const int max_clients =
      options.protocol == Protocol::kGrpc ? kMaxGrpcClients : kMaxRestClients;
  if (options.clients < 1 || options.clients > max_clients) {
    return "--clients: must be in [1, " + std::to_string(max_clients) +
           "] for " + ProtocolName(options.protocol);
  }
  if (options.channels < 0 || options.channels > kMaxChannels) {
    return "--channels: must be in [0, 64]";
  }
  if (options.threads < 1 || options.threads > kMaxThreads) {
    return "--threads: must be in [1, 16]";
  }
  if (options.protocol == Protocol::kRest && options.mode == Mode::kWatch) {
    return "--mode=watch is gRPC only (REST watchers: see tests/rest)";
  }
  if (options.protocol == Protocol::kRest && options.mode == Mode::kExecute) {
    return "--mode=execute is gRPC only (the Execute RPC)";
  }
  if (options.mode == Mode::kBurst) {
    const BurstOptions& b = options.burst;
    if (options.protocol != Protocol::kGrpc) return "--mode=burst is gRPC only";
    if (b.watchers < 0 || b.watchers > kMaxWatchers) {
      return "--watchers: must be in [0, 20000]";
    }
    if (b.watchers > 0 && b.watch_jobs < 1) {
      return "--watch_jobs: at least 1 when there are watchers";
    }
    if (b.watch_jobs < 0 || b.watch_jobs > 10'000) {
      return "--watch_jobs: must be in [0, 10000]";
    }
    if (b.watch_samples < 1) return "--watch_samples: at least 1";
    if (b.hold_jobs < 0 || b.hold_jobs > 64) {
      return "--hold_jobs: must be in [0, 64]";
    }
    if (b.burst_jobs < 1 || b.burst_jobs > kMaxBurstJobs) {
      return "--burst_jobs: must be in [1, 1000000]";
    }
    if (!(b.finish_timeout_s > 0 &&
          b.finish_timeout_s <= kMaxDurationSeconds)) {
      return "--finish_timeout: must be in (0, 600] seconds";
    }
    if (!(b.release_wait_s >= 0 && b.release_wait_s <= kMaxDurationSeconds)) {
      return "--release_wait: must be in [0, 600] seconds";
    }
    if (!(b.settle_s >= 0 && b.settle_s <= 60)) {
      return "--settle: must be in [0, 60] seconds";
    }
  }
  return "";
}

}  // namespace impulse::load
