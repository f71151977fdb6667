#include "compute/analytics/wordcount.h"

#include <tbb/enumerable_thread_specific.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "compute/analytics/tokenizer.h"
#include "compute/analytics/waves.h"
#include "compute/analytics/word_scan.h"
#include "compute/analytics/word_table.h"
#include "compute/common/parallel.h"

namespace impulse::analytics {
namespace {

constexpr std::size_t kChunkBytes = 256 << 10;

// One thread's counts. Short words are counted with a lag of kLag words: a
// word's slot is prefetched when it is scanned and counted kLag words later,
// so the cache misses of the table overlap with scanning.
struct LocalCounts {
  internal::WordTable table{1 << 14};
  std::uint64_t total = 0;
  internal::ScanBuffers buffers;

  static constexpr std::size_t kLag = 32;  // 16-64 measured the same
  struct Pending {
    internal::ShortKey key;
    std::uint64_t hash;
    std::uint32_t len;
  };
  Pending pending[kLag];
  std::size_t num_pending = 0;  // counts up; slot = num_pending % kLag

  void Add(const char* word, std::size_t len, internal::ShortKey key) {
    ++total;
    if (len > internal::kShortWord) {
      table.AddLong(std::string_view(word, len),
                    internal::WordTable::HashLong(word, len), 1);
      return;
    }
    const std::uint64_t h = internal::WordTable::HashShort(key);
    table.Prefetch(h);
    Pending& p = pending[num_pending % kLag];
    if (num_pending >= kLag) table.AddShort(p.key, p.len, p.hash, 1);
    // Field by field: a struct copy went through the stack and stalled on
    // store-to-load forwarding.
    p.key = key;
    p.hash = h;
    p.len = static_cast<std::uint32_t>(len);
    ++num_pending;
  }

  // Counts the words still pending.
  void Flush() {
    const std::size_t n = std::min(num_pending, kLag);
    for (std::size_t i = num_pending - n; i < num_pending; ++i) {
      const Pending& p = pending[i % kLag];
      table.AddShort(p.key, p.len, p.hash, 1);
    }
    num_pending = 0;
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
    parallel::Sort(order.begin(), order.end(), before);
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
          internal::ScanWords(
              part, local.buffers,
              [&](const char* w, std::size_t len, internal::ShortKey key) {
                local.Add(w, len, key);
              });
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
    big->table.Merge(l.table);
    big->total += l.total;
  }
  std::vector<std::pair<std::string_view, std::uint64_t>> flat;
  flat.reserve(big->table.size());
  big->table.ForEach(
      [&](std::string_view w, std::uint64_t c) { flat.emplace_back(w, c); });
  result.total_words = big->total;
  result.distinct_words = flat.size();
  result.words = Rank(
      flat.size(), options.top_k,
      [&](std::uint32_t i) { return flat[i].first; },
      [&](std::uint32_t i) { return flat[i].second; });
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
