// Word frequencies over a text corpus, MapReduce style (book ch8): the text
// is cut into byte ranges at separator bytes, each range is tokenised (the
// words of tokenizer.h: lower-case, letters only, UTF-8 aware, found by the
// SIMD scanner of word_scan.h) and counted into a per-thread flat hash table
// (map, word_table.h), then the tables are merged (reduce) and the words
// ranked by count, ties broken by the word (byte-wise, i.e. code point
// order), ascending.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "compute/analytics/progress.h"
#include "compute/common/run_control.h"
#include "compute/common/status.h"

namespace impulse::analytics {

struct WordCount {
  std::string word;
  std::uint64_t count = 0;
  bool operator==(const WordCount&) const = default;
};

struct WordCountOptions {
  // Keep only the top_k most frequent words; 0 keeps every word.
  std::size_t top_k = 0;
};

struct WordCountResult {
  std::uint64_t total_words = 0;     // number of word occurrences
  std::uint64_t distinct_words = 0;  // vocabulary size (before top_k)
  // Count descending, then word ascending; at most top_k entries if set.
  std::vector<WordCount> words;
};

// Counts words of `text` in the caller's TBB arena. progress(bytes_done,
// text.size()) between waves; cancel -> kCancelled. Empty text (or text
// without letters) is not an error: the result is empty.
Result<WordCountResult> CountWords(std::string_view text,
                                   const WordCountOptions& options = {},
                                   const RunControl& control = {},
                                   const ProgressCallback& progress = {});

// Simple single-thread version (same words, found with ForEachWord;
// std::unordered_map): benchmark baseline and cross-check.
WordCountResult CountWordsSimple(std::string_view text,
                                 const WordCountOptions& options = {});

}  // namespace impulse::analytics
