// Analytics workloads (issue 4) against simple single-thread versions of the
// same algorithms, in the same run. Parallel variants use the default TBB
// arena (all cores of the machine).
#include <benchmark/benchmark.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "compute/analytics/csv.h"
#include "compute/analytics/distance_matrix.h"
#include "compute/analytics/inverted_index.h"
#include "compute/analytics/knn.h"
#include "compute/analytics/table.h"
#include "compute/analytics/wordcount.h"

namespace impulse::analytics {
namespace {

std::vector<double> RandomPoints(std::size_t n, std::size_t dims,
                                 std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> p(n * dims);
  for (double& v : p) v = u(rng);
  return p;
}

// ---- distance matrix (book: N = 10,000, d = 2; NumPy 3.56 s) ----

// Rows [0, N) into a preallocated buffer (the streaming path). Third
// argument: threads (0 = all cores, 1 = same tiled/vectorised code on one
// thread).
void BM_DistanceRows(benchmark::State& state) {
  const std::size_t n = state.range(0);
  const std::size_t dims = state.range(1);
  const int threads = static_cast<int>(state.range(2));
  const auto pts = RandomPoints(n, dims, 1);
  std::vector<double> out(n * n);
  tbb::task_arena arena(threads > 0 ? threads : tbb::task_arena::automatic);
  for (auto _ : state) {
    arena.execute([&] {
      auto s = ComputeDistanceRows(pts, dims, 0, n, out);
      benchmark::DoNotOptimize(out.data());
    });
  }
  state.counters["dist/s"] = benchmark::Counter(
      double(n) * n, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_DistanceRows)
    ->Args({10000, 2, 0})
    ->Args({10000, 2, 1})
    ->Args({10000, 16, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_DistanceMatrixAlloc(benchmark::State& state) {
  const std::size_t n = state.range(0);
  const std::size_t dims = state.range(1);
  const auto pts = RandomPoints(n, dims, 1);
  for (auto _ : state) {
    auto m = ComputeDistanceMatrix(pts, dims);
    benchmark::DoNotOptimize(m.value().data());
  }
  state.counters["dist/s"] = benchmark::Counter(
      double(n) * n, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_DistanceMatrixAlloc)
    ->Args({10000, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_DistanceRowsScalar(benchmark::State& state) {
  const std::size_t n = state.range(0);
  const std::size_t dims = state.range(1);
  const auto pts = RandomPoints(n, dims, 1);
  std::vector<double> out(n * n);
  for (auto _ : state) {
    ComputeDistanceRowsScalar(pts.data(), n, dims, 0, n, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["dist/s"] = benchmark::Counter(
      double(n) * n, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_DistanceRowsScalar)
    ->Args({10000, 2})
    ->Args({10000, 16})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// ---- k nearest neighbours (N = 1e6, d = 2, k = 10) ----

void BM_KnnKdTree(benchmark::State& state) {
  const std::size_t n = state.range(0);
  const int threads = static_cast<int>(state.range(1));  // 0 = all cores
  const auto pts = RandomPoints(n, 2, 2);
  tbb::task_arena arena(threads > 0 ? threads : tbb::task_arena::automatic);
  for (auto _ : state) {
    arena.execute([&] {
      auto r = KNearestNeighbors(pts, 2, KnnOptions{.k = 10});
      benchmark::DoNotOptimize(r.value().indices.data());
    });
  }
  state.counters["queries/s"] = benchmark::Counter(
      double(n), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_KnnKdTree)
    ->Args({1000000, 0})
    ->Args({1000000, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_KdTreeBuild(benchmark::State& state) {
  const std::size_t n = state.range(0);
  const auto pts = RandomPoints(n, 2, 2);
  for (auto _ : state) {
    auto t = KdTree::Build(pts, 2);
    benchmark::DoNotOptimize(t.value().size());
  }
}
BENCHMARK(BM_KdTreeBuild)
    ->Arg(1000000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Brute force over all N points for a sample of queries: per-query cost.
void BM_KnnBruteForcePerQuery(benchmark::State& state) {
  const std::size_t n = state.range(0);
  const std::size_t queries = 20;
  const auto pts = RandomPoints(n, 2, 2);
  for (auto _ : state) {
    auto r = KNearestNeighborsBruteForce(pts, 2, {}, 0, queries,
                                         KnnOptions{.k = 10});
    benchmark::DoNotOptimize(r.indices.data());
  }
  state.counters["queries/s"] = benchmark::Counter(
      double(queries), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_KnnBruteForcePerQuery)
    ->Arg(1000000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// ---- word count on generated text ----

// Zipf-distributed words from a 50,000-word synthetic vocabulary (2-12
// letters; ~10% capitalised, ~3% non-ASCII: Latin-1, Greek, Cyrillic),
// separated by spaces, punctuation and newlines.
std::string GenerateText(std::size_t bytes, std::uint64_t seed,
                         unsigned non_ascii_percent = 3) {
  std::mt19937_64 rng(seed);
  const char* const kExtra[] = {"\xC3\xA9", "\xC3\xBC", "\xCE\xB1",
                                "\xD0\xB4", "\xC3\x89", "\xD0\x96"};
  std::vector<std::string> vocab(50000);
  for (std::size_t i = 0; i < vocab.size(); ++i) {
    const int len = 2 + static_cast<int>(rng() % 11);
    for (int j = 0; j < len; ++j) {
      if (rng() % 100 < non_ascii_percent) {
        vocab[i] += kExtra[rng() % 6];
      } else {
        vocab[i] += static_cast<char>('a' + rng() % 26);
      }
    }
  }
  // Zipf(1) sampling by inverse CDF over a precomputed table.
  std::vector<double> cdf(vocab.size());
  double sum = 0;
  for (std::size_t i = 0; i < cdf.size(); ++i) cdf[i] = (sum += 1.0 / (i + 1));
  for (double& c : cdf) c /= sum;
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::string text;
  text.reserve(bytes + 64);
  std::size_t words = 0;
  while (text.size() < bytes) {
    const std::size_t w =
        std::lower_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin();
    std::string word = vocab[std::min(w, vocab.size() - 1)];
    if (rng() % 10 == 0 && word[0] >= 'a') word[0] = word[0] - 32;
    text += word;
    ++words;
    const unsigned r = rng() % 20;
    text += r == 0 ? "\n" : r == 1 ? ", " : r == 2 ? ". " : " ";
  }
  return text;
}

// 500 MB (decimal); variant 0: ~3% of letters non-ASCII (about one word in
// five takes the UTF-8 path), variant 1: ASCII only (English-like). Each is
// generated on first use (some seconds).
constexpr std::size_t kWordCountBytes = 500'000'000;
const std::string& BenchText(int variant = 0) {
  if (variant == 0) {
    static const std::string text = GenerateText(kWordCountBytes, 3);
    return text;
  }
  static const std::string ascii = GenerateText(kWordCountBytes, 4, 0);
  return ascii;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

template <typename Fn>
double Seconds(Fn&& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
      .count();
}

// Word count (top 100) on all cores against two single-thread baselines run
// in the same iterations, interleaved, so machine noise hits all three:
//   1thread: the same CountWords in a one-thread arena;
//   simple:  CountWordsSimple (std::unordered_map, ForEachWord).
// Counters are medians over the iterations: MB/s (decimal) of each, and
// x_1thread / x_simple = baseline time / all-core time. load1 is the 1-minute
// load average when the benchmark started (the machine may be shared).
// Arg: text variant (0 = with non-ASCII words, 1 = ASCII only).
void BM_WordCount(benchmark::State& state) {
  const std::string& text = BenchText(static_cast<int>(state.range(0)));
  const WordCountOptions options{.top_k = 100};
  double load[1] = {0};
  getloadavg(load, 1);
  tbb::task_arena all(tbb::task_arena::automatic);
  tbb::task_arena one(1);
  std::vector<double> par, single, simple;
  for (auto _ : state) {
    const double t = Seconds([&] {
      all.execute([&] {
        auto r = CountWords(text, options);
        benchmark::DoNotOptimize(r.value().words.data());
      });
    });
    state.SetIterationTime(t);
    par.push_back(t);
    single.push_back(Seconds([&] {
      one.execute([&] {
        auto r = CountWords(text, options);
        benchmark::DoNotOptimize(r.value().words.data());
      });
    }));
    simple.push_back(Seconds([&] {
      auto r = CountWordsSimple(text, options);
      benchmark::DoNotOptimize(r.words.data());
    }));
  }
  const double mb = static_cast<double>(text.size()) / 1e6;
  state.counters["MB/s"] = mb / Median(par);
  state.counters["MB/s_1thread"] = mb / Median(single);
  state.counters["MB/s_simple"] = mb / Median(simple);
  state.counters["x_1thread"] = Median(single) / Median(par);
  state.counters["x_simple"] = Median(simple) / Median(par);
  state.counters["threads"] = all.max_concurrency();
  state.counters["load1"] = load[0];
}
BENCHMARK(BM_WordCount)
    ->Arg(0)
    ->Arg(1)
    ->Iterations(5)
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime();

// ---- inverted index: Query / Complete latency on 100,000 documents ----

struct IndexFixture {
  std::vector<std::string> vocab;
  InvertedIndex index;
};

const IndexFixture& Index100k() {
  static const IndexFixture f = [] {
    // 100,000 lines of ~12 Zipf-distributed words from a 50,000-word
    // vocabulary (the word-count generator, cut into lines).
    const std::string text = GenerateText(std::size_t{9} << 20, 5);
    std::string docs;
    std::size_t words = 0;
    std::size_t lines = 0;
    for (char c : text) {
      if (c == '\n') continue;
      docs.push_back(c);
      if (c == ' ' && ++words % 12 == 0) {
        docs.push_back('\n');
        if (++lines == 100000) break;
      }
    }
    IndexFixture f;
    f.index = std::move(InvertedIndex::Build(docs).value());
    for (std::size_t i = 0; i < f.index.vocabulary_size(); ++i) {
      f.vocab.emplace_back(f.index.term(i));
    }
    // Query terms: weighted like the corpus (frequent words more often).
    std::sort(f.vocab.begin(), f.vocab.end(),
              [&](const auto& a, const auto& b) {
                return f.index.frequency(a) > f.index.frequency(b);
              });
    f.vocab.resize(std::min<std::size_t>(f.vocab.size(), 2000));
    return f;
  }();
  return f;
}

template <typename Op>
void LatencyLoop(benchmark::State& state, Op op) {
  std::vector<double> us;
  std::size_t i = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    op(i++);
    us.push_back(std::chrono::duration<double, std::micro>(
                     std::chrono::steady_clock::now() - t0)
                     .count());
  }
  std::sort(us.begin(), us.end());
  state.counters["p50_us"] = us[us.size() / 2];
  state.counters["p99_us"] = us[us.size() * 99 / 100];
}

void BM_IndexQuery(benchmark::State& state) {
  const IndexFixture& f = Index100k();
  std::mt19937_64 rng(9);
  const int shape = static_cast<int>(state.range(0));
  std::vector<std::string> queries;
  for (int i = 0; i < 1000; ++i) {
    auto w = [&] { return f.vocab[rng() % f.vocab.size()]; };
    switch (shape) {
      case 0:
        queries.push_back(w() + " AND " + w());
        break;
      case 1:
        queries.push_back(w() + " OR " + w());
        break;
      default:
        queries.push_back(w() + " AND (" + w() + " OR " + w() + ") AND NOT " +
                          w());
    }
  }
  std::uint64_t matches = 0;
  LatencyLoop(state, [&](std::size_t i) {
    auto r = f.index.Query(queries[i % queries.size()], 0, 10);
    matches += r.value().total_matches;
  });
  state.counters["avg_matches"] =
      double(matches) / std::max<std::int64_t>(1, state.iterations());
}
BENCHMARK(BM_IndexQuery)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond);

void BM_IndexComplete(benchmark::State& state) {
  const IndexFixture& f = Index100k();
  std::mt19937_64 rng(10);
  std::vector<std::string> prefixes;
  for (int i = 0; i < 1000; ++i) {
    const std::string& w = f.vocab[rng() % f.vocab.size()];
    prefixes.push_back(
        w.substr(0, 1 + rng() % std::min<std::size_t>(3, w.size())));
  }
  LatencyLoop(state, [&](std::size_t i) {
    benchmark::DoNotOptimize(
        f.index.Complete(prefixes[i % prefixes.size()], 10));
  });
}
BENCHMARK(BM_IndexComplete)->Unit(benchmark::kMicrosecond);

void BM_IndexBuild(benchmark::State& state) {
  const std::string& text = BenchText();
  const std::string_view part(text.data(), std::size_t{32} << 20);
  for (auto _ : state) {
    auto idx = InvertedIndex::Build(part);
    benchmark::DoNotOptimize(idx.value().num_documents());
  }
  state.SetBytesProcessed(std::int64_t(state.iterations()) * part.size());
}
BENCHMARK(BM_IndexBuild)->Unit(benchmark::kMillisecond)->UseRealTime();

// ---- CSV parse + group-by on a generated numeric CSV ----

// id (int64), sensor (int64 in [0, 1000)), value (double, 2 decimals),
// count (int64): about 30 bytes per row.
std::string GenerateCsv(std::size_t rows) {
  std::mt19937_64 rng(11);
  std::string t = "id,sensor,value,count\n";
  t.reserve(rows * 32);
  char buf[96];
  for (std::size_t r = 0; r < rows; ++r) {
    const long v = static_cast<long>(rng() % 2000000) - 1000000;
    const int n =
        std::snprintf(buf, sizeof(buf), "%zu,%u,%ld.%02ld,%u\n", r,
                      static_cast<unsigned>(rng() % 1000), v / 100,
                      std::labs(v % 100), static_cast<unsigned>(rng() % 50));
    t.append(buf, n);
  }
  return t;
}

const std::string& BenchCsv() {
  static const std::string csv = GenerateCsv(10000000);
  return csv;
}

void BM_CsvParse(benchmark::State& state) {
  const std::string& csv = BenchCsv();
  for (auto _ : state) {
    auto t = ParseCsv(csv);
    benchmark::DoNotOptimize(t.value().num_rows());
  }
  state.SetBytesProcessed(std::int64_t(state.iterations()) * csv.size());
}
BENCHMARK(BM_CsvParse)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_CsvParseSequential(benchmark::State& state) {
  const std::string& csv = BenchCsv();
  for (auto _ : state) {
    auto t = ParseCsvSequential(csv);
    benchmark::DoNotOptimize(t.value().num_rows());
  }
  state.SetBytesProcessed(std::int64_t(state.iterations()) * csv.size());
}
BENCHMARK(BM_CsvParseSequential)->Unit(benchmark::kMillisecond)->UseRealTime();

// Parse + group by sensor: mean(value), sum(count), count.
void BM_CsvGroupBy(benchmark::State& state) {
  const std::string& csv = BenchCsv();
  const bool single = state.range(0) == 1;
  tbb::task_arena arena(single ? 1 : tbb::task_arena::automatic);
  const std::vector<std::string> keys = {"sensor"};
  const std::vector<Aggregate> aggs = {{AggOp::kMean, "value", ""},
                                       {AggOp::kSum, "count", ""},
                                       {AggOp::kCount, "", ""}};
  for (auto _ : state) {
    arena.execute([&] {
      auto t = single ? ParseCsvSequential(csv) : ParseCsv(csv);
      auto g = GroupBy(t.value(), keys, aggs);
      benchmark::DoNotOptimize(g.value().num_rows());
    });
  }
  state.SetBytesProcessed(std::int64_t(state.iterations()) * csv.size());
  state.counters["rows/s"] =
      benchmark::Counter(1e7, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_CsvGroupBy)
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Group-by alone on the parsed table.
void BM_GroupByOnly(benchmark::State& state) {
  static const Table table = ParseCsv(BenchCsv()).value();
  const bool single = state.range(0) == 1;
  tbb::task_arena arena(single ? 1 : tbb::task_arena::automatic);
  const std::vector<std::string> keys = {"sensor"};
  const std::vector<Aggregate> aggs = {{AggOp::kMean, "value", ""},
                                       {AggOp::kSum, "count", ""},
                                       {AggOp::kCount, "", ""}};
  for (auto _ : state) {
    arena.execute([&] {
      auto g = GroupBy(table, keys, aggs);
      benchmark::DoNotOptimize(g.value().num_rows());
    });
  }
  state.counters["rows/s"] = benchmark::Counter(
      double(table.num_rows()), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_GroupByOnly)
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace impulse::analytics

BENCHMARK_MAIN();
