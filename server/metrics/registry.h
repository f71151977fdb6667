// A small Prometheus metrics registry rendering the text exposition format
// 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/).
//
// Metrics are grouped in families (one name, one HELP, one TYPE, a fixed list
// of label names). `Family::WithLabels(values...)` returns a reference to the
// child for that label set; the reference stays valid for the registry's life,
// so hot paths look a child up once and cache it. Updating a child is a few
// lock-free atomic operations and never allocates. `WithLabels` itself takes
// the family's mutex and allocates only the first time a label set is seen.
//
// Registration (AddCounter/AddGauge/AddHistogram) validates names and throws
// std::invalid_argument on a bad or duplicate name; do it once at start-up.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace impulse::metrics {

enum class MetricType { kCounter, kGauge, kHistogram };

static_assert(std::atomic<double>::is_always_lock_free &&
                  std::atomic<std::uint64_t>::is_always_lock_free,
              "metric updates must be lock-free");

// A monotonically increasing value (e.g. requests served).
class Counter {
 public:
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  // Adds `v`; negative and NaN increments are ignored (counters never go down).
  void Increment(double v = 1.0) {
    if (!(v >= 0.0)) return;
    value_.fetch_add(v, std::memory_order_relaxed);
  }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A value that goes up and down (e.g. queue depth).
class Gauge {
 public:
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Increment(double v = 1.0) {
    value_.fetch_add(v, std::memory_order_relaxed);
  }
  void Decrement(double v = 1.0) {
    value_.fetch_sub(v, std::memory_order_relaxed);
  }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Cumulative view of a histogram, as rendered.
struct HistogramSnapshot {
  std::vector<double> upper_bounds;       // finite bounds, ascending
  std::vector<std::uint64_t> cumulative;  // size upper_bounds.size() + 1; the
                                          // last entry is the +Inf bucket
  std::uint64_t count = 0;                // == cumulative.back()
  double sum = 0.0;
};

// Observations counted into fixed buckets. A value v lands in the first bucket
// with v <= upper bound ("le"); values above every bound (and NaN) land in the
// implicit +Inf bucket.
class Histogram {
 public:
  // `upper_bounds` must be finite and strictly increasing; a trailing +Inf is
  // accepted and dropped (it is always implicit). Throws std::invalid_argument.
  explicit Histogram(std::vector<double> upper_bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void Observe(double v);
  template <typename Rep, typename Period>
  void ObserveDuration(std::chrono::duration<Rep, Period> d) {
    Observe(std::chrono::duration<double>(d).count());
  }

  const std::vector<double>& upper_bounds() const { return bounds_; }
  HistogramSnapshot Snapshot() const;

 private:
  std::vector<double> bounds_;
  // Per-bucket (non-cumulative) counts; bounds_.size() + 1 entries.
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;
  std::atomic<double> sum_{0.0};
};

// Validates histogram bounds as Histogram's constructor does; returns the
// bounds without a trailing +Inf. Throws std::invalid_argument.
std::vector<double> ValidateBuckets(std::vector<double> upper_bounds);
// start, start+width, ... (`count` bounds).
std::vector<double> LinearBuckets(double start, double width, int count);
// start, start*factor, ... (`count` bounds).
std::vector<double> ExponentialBuckets(double start, double factor, int count);

// Name, help, type and label names of a family, plus rendering.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, MetricType type,
             std::vector<std::string> label_names);
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  MetricType type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Appends "# HELP", "# TYPE" and one line per sample to `out`. A family with
  // label names and no children yet renders nothing.
  virtual void Render(std::string& out) const = 0;

 private:
  std::string name_;
  std::string help_;
  MetricType type_;
  std::vector<std::string> label_names_;
};

// Orders label-value tuples; transparent so lookups by string_view tuples do
// not allocate.
struct LabelValuesLess {
  using is_transparent = void;
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return std::lexicographical_compare(
        a.begin(), a.end(), b.begin(), b.end(),
        [](std::string_view x, std::string_view y) { return x < y; });
  }
};

// A family of metrics of type M (Counter, Gauge or Histogram), one child per
// distinct tuple of label values. Thread-safe.
template <typename M>
class Family final : public FamilyBase {
 public:
  // `buckets` is used by Histogram families only.
  Family(std::string name, std::string help,
         std::vector<std::string> label_names,
         std::vector<double> buckets = {});

  // The child for these label values, in label_names() order. Created on first
  // use; the reference is stable for the life of the registry. Throws
  // std::invalid_argument when the number of values is wrong.
  M& WithLabels(std::initializer_list<std::string_view> values) {
    return WithLabels(
        std::span<const std::string_view>(values.begin(), values.size()));
  }
  M& WithLabels(std::span<const std::string_view> values);
  M& WithLabels(const std::vector<std::string>& values);

  // The single child of a family without labels (no lock, no lookup). Throws
  // std::logic_error when the family has labels.
  M& Get();

  std::size_t size() const;
  void Render(std::string& out) const override;

 private:
  template <typename Values>
  M& FindOrCreate(const Values& values);
  std::unique_ptr<M> MakeChild() const;

  std::vector<double> buckets_;
  M* unlabelled_ = nullptr;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<M>, LabelValuesLess>
      children_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

class Registry {
 public:
  // The Content-Type for RenderText()'s output.
  static constexpr std::string_view kContentType =
      "text/plain; version=0.0.4; charset=utf-8";

  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  CounterFamily& AddCounter(std::string name, std::string help,
                            std::vector<std::string> label_names = {});
  GaugeFamily& AddGauge(std::string name, std::string help,
                        std::vector<std::string> label_names = {});
  HistogramFamily& AddHistogram(std::string name, std::string help,
                                std::vector<std::string> label_names,
                                std::vector<double> upper_bounds);

  // Called (in registration order) at the start of every RenderText(), e.g.
  // to refresh gauges that are cheaper to read at scrape time than to keep
  // up to date. Must not call back into this registry's RenderText().
  void AddScrapeHook(std::function<void()> hook);

  // Every family in registration order, children sorted by label values.
  std::string RenderText() const;
  void RenderText(std::string& out) const;

 private:
  void CheckAndReserve(const std::string& name, MetricType type,
                       const std::vector<std::string>& label_names);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<FamilyBase>> families_;
  std::set<std::string, std::less<>> series_names_;
  std::vector<std::function<void()>> hooks_;
};

// Text-format helpers, exposed for tests and for other exporters.
// Label values: backslash, double quote and newline are escaped.
std::string EscapeLabelValue(std::string_view v);
// HELP text: backslash and newline are escaped.
std::string EscapeHelp(std::string_view v);
// Integral values below 2^53 without a decimal point ("3"), others in the
// shortest round-trip form ("0.25", "1.5e-07"); "+Inf", "-Inf", "NaN".
std::string FormatValue(double v);
bool IsValidMetricName(std::string_view name);
bool IsValidLabelName(std::string_view name);

}  // namespace impulse::metrics
