#include "client/job_format.h"

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <utility>
#include <vector>

#include "proto/grpc_status_name.h"

namespace impulse::cli {
namespace {

using google::protobuf::util::TimeUtil;

constexpr int kPositionsShown = 5;

bool IsSet(const google::protobuf::Timestamp& time) {
  return time.seconds() != 0 || time.nanos() != 0;
}

std::string Percent(double fraction) {
  return fmt::format("{:.1f}%", 100.0 * fraction);
}

std::string SortedCounters(
    const google::protobuf::Map<std::string, std::uint64_t>& counters) {
  std::vector<std::pair<std::string, std::uint64_t>> sorted(counters.begin(),
                                                            counters.end());
  std::sort(sorted.begin(), sorted.end());
  std::string text;
  for (const auto& [name, value] : sorted) {
    text += fmt::format(" {}={}", name, value);
  }
  return text;
}

}  // namespace

std::string ToJson(const google::protobuf::Message& message, bool pretty) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = pretty;
  std::string json;
  auto status =
      google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    // Only possible for messages with invalid UTF-8 in strings.
    return fmt::format("{{\"error\": \"cannot print {} as JSON\"}}",
                       message.GetTypeName());
  }
  if (pretty && !json.empty() && json.back() == '\n') json.pop_back();
  return json;
}

std::string StatusCodeName(grpc::StatusCode code) {
  const std::string_view name = GrpcStatusCodeName(code);
  if (name.empty()) return fmt::format("CODE_{}", static_cast<int>(code));
  return std::string(name);
}

std::string FormatStatus(const grpc::Status& status) {
  if (status.error_message().empty()) {
    return StatusCodeName(status.error_code());
  }
  return fmt::format("{}: {}", StatusCodeName(status.error_code()),
                     status.error_message());
}

std::string KindName(const v1::JobSpec& spec) {
  switch (spec.kind_case()) {
    case v1::JobSpec::kPi:
      return "pi";
    case v1::JobSpec::kParticles:
      return "particles";
    case v1::JobSpec::KIND_NOT_SET:
      break;
    default: {  // the analytics kinds: the oneof field's name
      const google::protobuf::OneofDescriptor* kind =
          spec.GetDescriptor()->FindOneofByName("kind");
      const google::protobuf::FieldDescriptor* field =
          spec.GetReflection()->GetOneofFieldDescriptor(spec, kind);
      return field == nullptr ? "" : field->name();
    }
  }
  return "";
}

std::string DescribeSpec(const v1::JobSpec& spec) {
  switch (spec.kind_case()) {
    case v1::JobSpec::kPi:
      return fmt::format("pi samples={} seed={}", spec.pi().samples(),
                         spec.pi().seed());
    case v1::JobSpec::kParticles: {
      const v1::ParticlesSpec& p = spec.particles();
      std::string text = "particles";
      if (p.particles_size() > 0) {
        text += fmt::format(" particles={}", p.particles_size());
      }
      if (p.random_particles() > 0) {
        text += fmt::format(" random_particles={} seed={}",
                            p.random_particles(), p.seed());
      }
      text += fmt::format(" t_end={}", p.t_end());
      if (p.has_timestep()) text += fmt::format(" timestep={}", p.timestep());
      if (p.snapshot_every() > 0) {
        text += fmt::format(" snapshot_every={}", p.snapshot_every());
      }
      return text;
    }
    case v1::JobSpec::KIND_NOT_SET:
      break;
    default: {
      const google::protobuf::FieldDescriptor* field =
          spec.GetReflection()->GetOneofFieldDescriptor(
              spec, spec.GetDescriptor()->FindOneofByName("kind"));
      return KindName(spec) + " " +
             spec.GetReflection()->GetMessage(spec, field).ShortDebugString();
    }
  }
  return "(no kind)";
}

std::string FormatTime(const google::protobuf::Timestamp& time) {
  if (!IsSet(time)) return "-";
  // TimeUtil prints 0, 3, 6 or 9 fractional digits; use milliseconds.
  google::protobuf::Timestamp millis = time;
  millis.set_nanos(time.nanos() / 1'000'000 * 1'000'000);
  return TimeUtil::ToString(millis);
}

double SecondsBetween(const google::protobuf::Timestamp& start,
                      const google::protobuf::Timestamp& end) {
  if (!IsSet(start) || !IsSet(end)) return -1;
  return static_cast<double>(end.seconds() - start.seconds()) +
         (end.nanos() - start.nanos()) * 1e-9;
}

std::string FormatDuration(double seconds) {
  if (seconds < 0) return "-";
  if (seconds < 60) return fmt::format("{:.3g} s", seconds);
  const auto total = static_cast<long long>(std::llround(seconds));
  if (total < 3600) {
    return fmt::format("{} min {:02} s", total / 60, total % 60);
  }
  return fmt::format("{} h {:02} min", total / 3600, total % 3600 / 60);
}

std::string FormatCount(double value) {
  const double magnitude = std::fabs(value);
  if (magnitude >= 1e12) return fmt::format("{:.3g} T", value / 1e12);
  if (magnitude >= 1e9) return fmt::format("{:.3g} G", value / 1e9);
  if (magnitude >= 1e6) return fmt::format("{:.3g} M", value / 1e6);
  if (magnitude >= 1e3) return fmt::format("{:.3g} k", value / 1e3);
  return fmt::format("{:.3g}", value);
}

std::string DescribeJob(const v1::Job& job) {
  std::string text;
  auto line = [&text](std::string_view name, const std::string& value) {
    text += fmt::format("{:<10}{}\n", name, value);
  };
  line("job", job.id());
  line("state", fmt::format("{} (attempt {})", v1::JobState_Name(job.state()),
                            job.attempt()));
  line("spec", DescribeSpec(job.spec()));
  std::string device = v1::Device_Name(job.spec().device());
  if (job.state() != v1::QUEUED) {
    device += fmt::format(", placed on {}", v1::Device_Name(job.placed_on()));
  }
  line("device", device);
  line("priority", std::to_string(job.spec().priority()));
  if (!job.spec().idempotency_key().empty()) {
    line("key", job.spec().idempotency_key());
  }
  if (!job.spec().labels().empty()) {
    std::vector<std::string> labels;
    for (const auto& [key, value] : job.spec().labels()) {
      labels.push_back(key + "=" + value);
    }
    std::sort(labels.begin(), labels.end());
    line("labels", fmt::format("{}", fmt::join(labels, ", ")));
  }
  line("created", FormatTime(job.create_time()));
  line("started", FormatTime(job.start_time()));
  std::string ended = FormatTime(job.end_time());
  if (const double ran = SecondsBetween(job.start_time(), job.end_time());
      ran >= 0) {
    ended += fmt::format(" (ran {})", FormatDuration(ran));
  }
  line("ended", ended);
  line("progress", Percent(job.progress()));
  if (!job.error().code().empty() || !job.error().message().empty()) {
    line("error",
         fmt::format("{}: {}", job.error().code(), job.error().message()));
  }
  if (job.cached()) line("cached", "result of job " + job.cached_from());
  if (job.has_result()) {
    std::string result = DescribeResult(job.result());
    // Indent continuation lines under the value column.
    for (std::size_t pos = result.find('\n'); pos != std::string::npos;
         pos = result.find('\n', pos + 11)) {
      result.insert(pos + 1, 10, ' ');
    }
    line("result", result);
  } else if (job.result_bytes() > 0) {
    line("result", fmt::format("{} bytes; fetch it with `impulse result {}`",
                               job.result_bytes(), job.id()));
  }
  if (!text.empty()) text.pop_back();
  return text;
}

std::string DescribeResult(const v1::JobResult& result) {
  switch (result.kind_case()) {
    case v1::JobResult::kPi: {
      const v1::PiResult& pi = result.pi();
      return fmt::format("pi ~ {:.10f} ({} hits / {} samples, off by {:.2e})",
                         pi.estimate(), pi.hits(), pi.samples(),
                         std::fabs(pi.estimate() - std::numbers::pi));
    }
    case v1::JobResult::kParticles: {
      const v1::ParticlesResult& p = result.particles();
      const std::uint64_t total =
          p.total_particles() > 0 ? p.total_particles() : p.x_size();
      std::string text =
          fmt::format("{} particles after {} steps", total, p.steps());
      const int shown = std::min({kPositionsShown, p.x_size(), p.y_size()});
      if (shown > 0) {
        text +=
            fmt::format("; final positions (first {} of {}):", shown, total);
        for (int i = 0; i < shown; ++i) {
          text += fmt::format("\n  [{}] x={:.6f} y={:.6f}", p.offset() + i,
                              p.x(i), p.y(i));
        }
      }
      return text;
    }
    case v1::JobResult::kDistanceMatrix: {
      const v1::DistanceMatrixResult& m = result.distance_matrix();
      return fmt::format("{} x {} distance matrix of {}-d points", m.n(), m.n(),
                         m.dims());
    }
    case v1::JobResult::kKnn:
      return fmt::format("{} nearest neighbours of {} points", result.knn().k(),
                         result.knn().num_queries());
    case v1::JobResult::kWordcount: {
      const v1::WordCountResult& w = result.wordcount();
      std::string text = fmt::format("{} words, {} distinct", w.total_words(),
                                     w.distinct_words());
      for (int i = 0; i < std::min(w.words_size(), kPositionsShown); ++i) {
        text += fmt::format("\n  {} {}", w.words(i).word(), w.words(i).count());
      }
      return text;
    }
    case v1::JobResult::kIndex: {
      const v1::IndexResult& x = result.index();
      return fmt::format("index {} over {}: {} documents, {} words, {} terms",
                         x.index_name(), x.dataset(), x.documents(),
                         x.vocabulary(), x.total_terms());
    }
    case v1::JobResult::kTable: {
      const v1::TableResult& t = result.table();
      std::vector<std::string> names;
      for (const v1::TableColumnInfo& c : t.columns())
        names.push_back(c.name());
      std::string text =
          fmt::format("{} rows: {}", t.num_rows(), fmt::join(names, ","));
      for (int r = 0; r < std::min(t.rows_size(), kPositionsShown); ++r) {
        std::vector<std::string> values;
        for (const v1::TableValue& v : t.rows(r).values()) {
          switch (v.value_case()) {
            case v1::TableValue::kIntValue:
              values.push_back(std::to_string(v.int_value()));
              break;
            case v1::TableValue::kDoubleValue:
              values.push_back(fmt::format("{}", v.double_value()));
              break;
            case v1::TableValue::kStringValue:
              values.push_back(v.string_value());
              break;
            case v1::TableValue::VALUE_NOT_SET:
              values.push_back("");
              break;
          }
        }
        text += fmt::format("\n  {}", fmt::join(values, ","));
      }
      return text;
    }
    case v1::JobResult::KIND_NOT_SET:
      break;
  }
  return "(empty result)";
}

std::string DescribeEvent(const v1::JobEvent& event) {
  std::string text =
      fmt::format("#{} {} {}", event.seq(), FormatTime(event.time()),
                  v1::EventType_Name(event.type()));
  if (event.type() == v1::STATE_CHANGED) {
    text += fmt::format(" {}", v1::JobState_Name(event.state()));
  } else {
    text += fmt::format(" {}", Percent(event.fraction()));
  }
  text += SortedCounters(event.counters());
  switch (event.partial_case()) {
    case v1::JobEvent::kPi:
      text += fmt::format(" estimate={:.8f}", event.pi().estimate());
      break;
    case v1::JobEvent::kParticles:
      text += fmt::format(" snapshot(step={}, {} particles)",
                          event.particles().step(), event.particles().x_size());
      break;
    case v1::JobEvent::PARTIAL_NOT_SET:
      break;
  }
  if (!event.error().code().empty() || !event.error().message().empty()) {
    text += fmt::format(" error={}: {}", event.error().code(),
                        event.error().message());
  }
  if (!event.message().empty()) text += fmt::format(" ({})", event.message());
  return text;
}

}  // namespace impulse::cli
