#include "server/metrics/registry.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <system_error>
#include <type_traits>
#include <utility>

namespace impulse::metrics {
namespace {

std::string_view TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

void AppendValue(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[64];
  std::to_chars_result r;
  constexpr double kMaxExactInt = 9007199254740992.0;  // 2^53
  if (v == std::trunc(v) && std::fabs(v) < kMaxExactInt) {
    r = std::to_chars(buf, buf + sizeof(buf), static_cast<long long>(v));
  } else {
    r = std::to_chars(buf, buf + sizeof(buf), v);
  }
  out.append(buf, r.ptr);
}

void AppendUint(std::string& out, std::uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, r.ptr);
}

void AppendEscapedLabelValue(std::string& out, std::string_view v) {
  for (char c : v) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

// Appends `{a="x",b="y"}` (plus an optional extra label such as `le`), or
// nothing when there are no labels at all.
void AppendLabels(std::string& out, const std::vector<std::string>& names,
                  const std::vector<std::string>& values,
                  std::string_view extra_name = {},
                  std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out += '{';
  bool first = true;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += names[i];
    out += "=\"";
    AppendEscapedLabelValue(out, values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    AppendEscapedLabelValue(out, extra_value);
    out += '"';
  }
  out += '}';
}

void AppendHeader(std::string& out, const FamilyBase& family) {
  out += "# HELP ";
  out += family.name();
  out += ' ';
  out += EscapeHelp(family.help());
  out += "\n# TYPE ";
  out += family.name();
  out += ' ';
  out += TypeName(family.type());
  out += '\n';
}

void RenderChild(std::string& out, const FamilyBase& family,
                 const std::vector<std::string>& values, const Counter& c) {
  out += family.name();
  AppendLabels(out, family.label_names(), values);
  out += ' ';
  AppendValue(out, c.Value());
  out += '\n';
}

void RenderChild(std::string& out, const FamilyBase& family,
                 const std::vector<std::string>& values, const Gauge& g) {
  out += family.name();
  AppendLabels(out, family.label_names(), values);
  out += ' ';
  AppendValue(out, g.Value());
  out += '\n';
}

void RenderChild(std::string& out, const FamilyBase& family,
                 const std::vector<std::string>& values, const Histogram& h) {
  const HistogramSnapshot s = h.Snapshot();
  for (std::size_t i = 0; i <= s.upper_bounds.size(); ++i) {
    out += family.name();
    out += "_bucket";
    const std::string le = i < s.upper_bounds.size()
                               ? FormatValue(s.upper_bounds[i])
                               : std::string("+Inf");
    AppendLabels(out, family.label_names(), values, "le", le);
    out += ' ';
    AppendUint(out, s.cumulative[i]);
    out += '\n';
  }
  out += family.name();
  out += "_sum";
  AppendLabels(out, family.label_names(), values);
  out += ' ';
  AppendValue(out, s.sum);
  out += '\n';
  out += family.name();
  out += "_count";
  AppendLabels(out, family.label_names(), values);
  out += ' ';
  AppendUint(out, s.count);
  out += '\n';
}

}  // namespace

// ---------------------------------------------------------------- helpers

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  AppendEscapedLabelValue(out, v);
  return out;
}

std::string EscapeHelp(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double v) {
  std::string out;
  AppendValue(out, v);
  return out;
}

bool IsValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                       c == '_' || c == ':';
    const bool digit = c >= '0' && c <= '9';
    if (!(alpha || (i > 0 && digit))) return false;
  }
  return true;
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!(alpha || (i > 0 && digit))) return false;
  }
  return true;
}

// -------------------------------------------------------------- histogram

std::vector<double> ValidateBuckets(std::vector<double> upper_bounds) {
  if (!upper_bounds.empty() && std::isinf(upper_bounds.back()) &&
      upper_bounds.back() > 0) {
    upper_bounds.pop_back();
  }
  for (std::size_t i = 0; i < upper_bounds.size(); ++i) {
    if (!std::isfinite(upper_bounds[i])) {
      throw std::invalid_argument("histogram bucket bounds must be finite");
    }
    if (i > 0 && !(upper_bounds[i] > upper_bounds[i - 1])) {
      throw std::invalid_argument(
          "histogram bucket bounds must be strictly increasing");
    }
  }
  return upper_bounds;
}

std::vector<double> LinearBuckets(double start, double width, int count) {
  std::vector<double> out;
  for (int i = 0; i < count; ++i) out.push_back(start + width * i);
  return out;
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  std::vector<double> out;
  double v = start;
  for (int i = 0; i < count; ++i) {
    out.push_back(v);
    v *= factor;
  }
  return out;
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(ValidateBuckets(std::move(upper_bounds))),
      counts_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    counts_[i].store(0, std::memory_order_relaxed);
  }
}

void Histogram::Observe(double v) {
  // First bound >= v; NaN compares false everywhere and lands in +Inf.
  std::size_t i = 0;
  if (std::isnan(v)) {
    i = bounds_.size();
  } else {
    i = static_cast<std::size_t>(
        std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  }
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

HistogramSnapshot Histogram::Snapshot() const {
  HistogramSnapshot s;
  s.upper_bounds = bounds_;
  s.cumulative.resize(bounds_.size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = running;
  }
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

// ----------------------------------------------------------------- family

FamilyBase::FamilyBase(std::string name, std::string help, MetricType type,
                       std::vector<std::string> label_names)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)) {}

namespace {
template <typename M>
constexpr MetricType TypeOf() {
  if constexpr (std::is_same_v<M, Counter>) {
    return MetricType::kCounter;
  } else if constexpr (std::is_same_v<M, Gauge>) {
    return MetricType::kGauge;
  } else {
    return MetricType::kHistogram;
  }
}
}  // namespace

template <typename M>
Family<M>::Family(std::string name, std::string help,
                  std::vector<std::string> label_names,
                  std::vector<double> buckets)
    : FamilyBase(std::move(name), std::move(help), TypeOf<M>(),
                 std::move(label_names)),
      buckets_(std::move(buckets)) {
  if constexpr (std::is_same_v<M, Histogram>) {
    buckets_ = ValidateBuckets(std::move(buckets_));
  }
  if (this->label_names().empty()) {
    auto child = MakeChild();
    unlabelled_ = child.get();
    children_.emplace(std::vector<std::string>{}, std::move(child));
  }
}

template <typename M>
std::unique_ptr<M> Family<M>::MakeChild() const {
  if constexpr (std::is_same_v<M, Histogram>) {
    return std::make_unique<Histogram>(buckets_);
  } else {
    return std::make_unique<M>();
  }
}

template <typename M>
template <typename Values>
M& Family<M>::FindOrCreate(const Values& values) {
  if (values.size() != label_names().size()) {
    throw std::invalid_argument(
        "metric " + name() + " takes " + std::to_string(label_names().size()) +
        " label values, got " + std::to_string(values.size()));
  }
  std::lock_guard lock(mu_);
  auto it = children_.find(values);
  if (it != children_.end()) return *it->second;
  std::vector<std::string> key(values.begin(), values.end());
  auto [pos, inserted] = children_.emplace(std::move(key), MakeChild());
  return *pos->second;
}

template <typename M>
M& Family<M>::WithLabels(std::span<const std::string_view> values) {
  return FindOrCreate(values);
}

template <typename M>
M& Family<M>::WithLabels(const std::vector<std::string>& values) {
  return FindOrCreate(values);
}

template <typename M>
M& Family<M>::Get() {
  if (unlabelled_ == nullptr) {
    throw std::logic_error("metric " + name() +
                           " has labels; use WithLabels()");
  }
  return *unlabelled_;
}

template <typename M>
std::size_t Family<M>::size() const {
  std::lock_guard lock(mu_);
  return children_.size();
}

template <typename M>
void Family<M>::Render(std::string& out) const {
  std::lock_guard lock(mu_);
  if (children_.empty()) return;
  AppendHeader(out, *this);
  for (const auto& [values, child] : children_) {
    RenderChild(out, *this, values, *child);
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// --------------------------------------------------------------- registry

void Registry::CheckAndReserve(const std::string& name, MetricType type,
                               const std::vector<std::string>& label_names) {
  if (!IsValidMetricName(name)) {
    throw std::invalid_argument("invalid metric name: '" + name + "'");
  }
  for (std::size_t i = 0; i < label_names.size(); ++i) {
    const std::string& l = label_names[i];
    if (!IsValidLabelName(l)) {
      throw std::invalid_argument("invalid label name '" + l + "' on " + name);
    }
    if (type == MetricType::kHistogram && l == "le") {
      throw std::invalid_argument("label 'le' is reserved on histogram " +
                                  name);
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (label_names[j] == l) {
        throw std::invalid_argument("duplicate label '" + l + "' on " + name);
      }
    }
  }
  // Every series name the family will emit must be unique in the registry.
  std::vector<std::string> series;
  if (type == MetricType::kHistogram) {
    series = {name, name + "_bucket", name + "_sum", name + "_count"};
  } else {
    series = {name};
  }
  for (const auto& s : series) {
    if (series_names_.contains(s)) {
      throw std::invalid_argument("metric name already registered: " + s);
    }
  }
  series_names_.insert(series.begin(), series.end());
}

CounterFamily& Registry::AddCounter(std::string name, std::string help,
                                    std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  CheckAndReserve(name, MetricType::kCounter, label_names);
  auto f = std::make_unique<CounterFamily>(std::move(name), std::move(help),
                                           std::move(label_names));
  auto& ref = *f;
  families_.push_back(std::move(f));
  return ref;
}

GaugeFamily& Registry::AddGauge(std::string name, std::string help,
                                std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  CheckAndReserve(name, MetricType::kGauge, label_names);
  auto f = std::make_unique<GaugeFamily>(std::move(name), std::move(help),
                                         std::move(label_names));
  auto& ref = *f;
  families_.push_back(std::move(f));
  return ref;
}

HistogramFamily& Registry::AddHistogram(std::string name, std::string help,
                                        std::vector<std::string> label_names,
                                        std::vector<double> upper_bounds) {
  upper_bounds = ValidateBuckets(std::move(upper_bounds));
  std::lock_guard lock(mu_);
  CheckAndReserve(name, MetricType::kHistogram, label_names);
  auto f = std::make_unique<HistogramFamily>(std::move(name), std::move(help),
                                             std::move(label_names),
                                             std::move(upper_bounds));
  auto& ref = *f;
  families_.push_back(std::move(f));
  return ref;
}

void Registry::AddScrapeHook(std::function<void()> hook) {
  std::lock_guard lock(mu_);
  hooks_.push_back(std::move(hook));
}

std::string Registry::RenderText() const {
  std::string out;
  RenderText(out);
  return out;
}

void Registry::RenderText(std::string& out) const {
  std::vector<std::function<void()>> hooks;
  std::vector<const FamilyBase*> families;
  {
    std::lock_guard lock(mu_);
    hooks = hooks_;
    families.reserve(families_.size());
    for (const auto& f : families_) families.push_back(f.get());
  }
  // Hooks run without the registry lock so they may update any metric.
  for (const auto& hook : hooks) hook();
  for (const FamilyBase* f : families) f->Render(out);
}

}  // namespace impulse::metrics
