#include "compute/analytics/wordcount.h"

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_sort.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "compute/analytics/string_table.h"
#include "compute/analytics/tokenizer.h"
#include "compute/analytics/waves.h"

namespace impulse::analytics {
namespace {

constexpr std::size_t kChunkBytes = 256 << 10;

struct LocalCounts {
  internal::StringTable table{1 << 14};  // value = count
  std::uint64_t total = 0;
  std::string scratch;

  void Add(std::string_view w, std::uint64_t h, std::uint64_t c) {
    table.value(table.Insert(w, h).first) += c;
  }

  // Words are counted in batches, software-pipelined: when a batch is full
  // its hashes are computed and its table slots prefetched, and then the
  // batch filled before it (prefetched one batch earlier) is counted. So the
  // cache misses of the hash table overlap with tokenising.
  static constexpr std::size_t kBatch = 32;
  static constexpr std::size_t kBatchChars = 4096;
  struct Batch {
    std::string_view words[kBatch];
    std::uint64_t hashes[kBatch];
    std::size_t size = 0;
    char chars[kBatchChars];  // copies of words that live in `scratch`
    std::size_t chars_used = 0;
  };
  Batch batches[2];
  int filling = 0;

  void Push(std::string_view w) {
    ++total;
    Batch* b = &batches[filling];
    if (w.data() == scratch.data()) {  // lower-cased copy: keep our own
      if (w.size() > kBatchChars) {
        Add(w, internal::HashBytes(w), 1);
        return;
      }
      if (b->chars_used + w.size() > kBatchChars) {
        Rotate();
        b = &batches[filling];
      }
      std::memcpy(b->chars + b->chars_used, w.data(), w.size());
      w = std::string_view(b->chars + b->chars_used, w.size());
      b->chars_used += w.size();
    }
    b->words[b->size++] = w;
    if (b->size == kBatch) Rotate();
  }

  void Rotate() {
    Batch& b = batches[filling];
    for (std::size_t i = 0; i < b.size; ++i) {
      b.hashes[i] = internal::HashBytes(b.words[i]);
      table.Prefetch(b.hashes[i]);
    }
    filling ^= 1;
    Count(batches[filling]);  // the older batch; now empty for filling
  }

  void Count(Batch& b) {
    std::uint32_t ids[kBatch];
    for (std::size_t i = 0; i < b.size; ++i) {
      ids[i] = table.Insert(b.words[i], b.hashes[i]).first;
      __builtin_prefetch(&table.value(ids[i]));
    }
    for (std::size_t i = 0; i < b.size; ++i) ++table.value(ids[i]);
    b.size = 0;
    b.chars_used = 0;
  }

  // Counts everything pending (call before the text's memory may change).
  void Flush() {
    Rotate();
    Count(batches[filling ^ 1]);
  }
};

// Chunk boundaries: each inner boundary is an ASCII non-letter byte, which
// can be neither inside a word nor inside a multi-byte UTF-8 sequence.
std::vector<std::size_t> SplitPoints(std::string_view text, std::size_t chunk) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::vector<std::size_t> pts{0};
  std::size_t pos = chunk;
  while (pos < n) {
    while (pos < n && tokenizer_internal::kByteClass[s[pos]] != 0) ++pos;
    if (pos >= n) break;
    pts.push_back(pos);
    pos += chunk;
  }
  pts.push_back(n);
  return pts;
}

// Orders (count desc, word asc) and keeps top_k.
template <typename KeyFn, typename CountFn>
std::vector<WordCount> Rank(std::size_t n, std::size_t top_k, KeyFn key,
                            CountFn count) {
  std::vector<std::uint32_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = static_cast<std::uint32_t>(i);
  auto before = [&](std::uint32_t a, std::uint32_t b) {
    const std::uint64_t ca = count(a);
    const std::uint64_t cb = count(b);
    return ca != cb ? ca > cb : key(a) < key(b);
  };
  std::size_t keep = n;
  if (top_k > 0 && top_k < n) {
    keep = top_k;
    std::partial_sort(order.begin(), order.begin() + keep, order.end(), before);
  } else if (n > 100000) {
    tbb::parallel_sort(order.begin(), order.end(), before);
  } else {
    std::sort(order.begin(), order.end(), before);
  }
  std::vector<WordCount> out(keep);
  for (std::size_t i = 0; i < keep; ++i) {
    out[i].word = std::string(key(order[i]));
    out[i].count = count(order[i]);
  }
  return out;
}

}  // namespace

Result<WordCountResult> CountWords(std::string_view text,
                                   const WordCountOptions& options,
                                   const RunControl& control,
                                   const ProgressCallback& progress) {
  const std::vector<std::size_t> cuts = SplitPoints(text, kChunkBytes);
  const std::size_t chunks = cuts.size() - 1;
  tbb::enumerable_thread_specific<LocalCounts> locals;
  // Progress in bytes: the callback sees the byte offset reached.
  ProgressCallback chunk_progress;
  if (progress) {
    chunk_progress = [&](std::uint64_t done, std::uint64_t) {
      progress(cuts[done], text.size());
    };
  }
  const bool done = internal::RunInWaves(
      chunks, 2 * internal::Concurrency(), 1, control, chunk_progress,
      [&](std::size_t b, std::size_t e) {
        LocalCounts& local = locals.local();
        for (std::size_t c = b; c < e; ++c) {
          const std::string_view part =
              text.substr(cuts[c], cuts[c + 1] - cuts[c]);
          ForEachWord(part, local.scratch,
                      [&](std::string_view w) { local.Push(w); });
        }
        local.Flush();
      });
  if (!done) return CancelledError();

  // Reduce: merge every table into the largest one.
  LocalCounts* big = nullptr;
  for (LocalCounts& l : locals) {
    if (big == nullptr || l.table.size() > big->table.size()) big = &l;
  }
  WordCountResult result;
  if (big == nullptr) return result;
  for (LocalCounts& l : locals) {
    if (&l == big) continue;
    for (std::uint32_t id = 0; id < l.table.size(); ++id) {
      big->Add(l.table.key(id), l.table.hash(id), l.table.value(id));
    }
    big->total += l.total;
  }
  result.total_words = big->total;
  result.distinct_words = big->table.size();
  result.words = Rank(
      big->table.size(), options.top_k,
      [&](std::uint32_t id) { return big->table.key(id); },
      [&](std::uint32_t id) { return big->table.value(id); });
  return result;
}

WordCountResult CountWordsSimple(std::string_view text,
                                 const WordCountOptions& options) {
  std::unordered_map<std::string, std::uint64_t> counts;
  std::uint64_t total = 0;
  std::string scratch;
  ForEachWord(text, scratch, [&](std::string_view w) {
    ++counts[std::string(w)];
    ++total;
  });
  std::vector<std::pair<std::string_view, std::uint64_t>> flat(counts.begin(),
                                                               counts.end());
  WordCountResult result;
  result.total_words = total;
  result.distinct_words = flat.size();
  result.words = Rank(
      flat.size(), options.top_k,
      [&](std::uint32_t i) { return flat[i].first; },
      [&](std::uint32_t i) { return flat[i].second; });
  return result;
}

}  // namespace impulse::analytics
