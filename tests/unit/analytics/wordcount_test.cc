#include "compute/analytics/wordcount.h"

#include <gtest/gtest.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "compute/analytics/tokenizer.h"

namespace impulse::analytics {
namespace {

// Reference: scalar tokeniser, std::map, full sort.
WordCountResult Reference(std::string_view text, std::size_t top_k) {
  std::map<std::string, std::uint64_t> counts;
  std::string scratch;
  WordCountResult r;
  ForEachWordScalar(text, scratch, [&](std::string_view w) {
    ++counts[std::string(w)];
    ++r.total_words;
  });
  for (const auto& [w, c] : counts) r.words.push_back({w, c});
  std::stable_sort(
      r.words.begin(), r.words.end(),
      [](const WordCount& a, const WordCount& b) { return a.count > b.count; });
  r.distinct_words = r.words.size();
  if (top_k > 0 && top_k < r.words.size()) r.words.resize(top_k);
  return r;
}

std::string RandomText(std::size_t bytes, std::uint64_t seed) {
  const char* const vocab[] = {
      "apple",  "Apple",
      "APPLE",  "banana",
      "cherry", "durian",
      "elder",  "café",
      "CAFÉ",   "Straße",
      "привет", "ΑΒΓ",
      "日本語", "a",
      "b",      "supercalifragilisticexpialidociousandthensomemoreletters"};
  const char* const seps[] = {" ", "  ", ", ", ".\n", "\n",   "\r\n",    "\t",
                              "—", "! ", "3",  "'",   "\xFF", "\xC2\xA0"};
  std::mt19937_64 rng(seed);
  std::string text;
  while (text.size() < bytes) {
    text += vocab[rng() % 16];
    text += seps[rng() % 13];
  }
  return text;
}

void ExpectEqual(const WordCountResult& want, const WordCountResult& got) {
  EXPECT_EQ(want.total_words, got.total_words);
  EXPECT_EQ(want.distinct_words, got.distinct_words);
  ASSERT_EQ(want.words.size(), got.words.size());
  for (std::size_t i = 0; i < want.words.size(); ++i) {
    ASSERT_EQ(want.words[i], got.words[i]) << "rank " << i;
  }
}

TEST(WordCountTest, SmallExample) {
  auto r = CountWords("the cat and The dog; THE end. cat!");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->total_words, 8u);
  EXPECT_EQ(r->distinct_words, 5u);
  ASSERT_EQ(r->words.size(), 5u);
  EXPECT_EQ(r->words[0], (WordCount{"the", 3}));
  EXPECT_EQ(r->words[1], (WordCount{"cat", 2}));
  EXPECT_EQ(r->words[2], (WordCount{"and", 1}));  // ties alphabetical
  EXPECT_EQ(r->words[3], (WordCount{"dog", 1}));
  EXPECT_EQ(r->words[4], (WordCount{"end", 1}));
}

TEST(WordCountTest, TiesAreAlphabeticalAndTopK) {
  auto r = CountWords("c b a c b a d", WordCountOptions{.top_k = 2});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->distinct_words, 4u);
  ASSERT_EQ(r->words.size(), 2u);
  EXPECT_EQ(r->words[0], (WordCount{"a", 2}));
  EXPECT_EQ(r->words[1], (WordCount{"b", 2}));
  r = CountWords("x y", WordCountOptions{.top_k = 10});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->words.size(), 2u);
}

TEST(WordCountTest, UnicodeWords) {
  auto r = CountWords("Café café CAFÉ naïve привет ПРИВЕТ 日本語");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->words.size(), 4u);
  EXPECT_EQ(r->words[0], (WordCount{"café", 3}));
  EXPECT_EQ(r->words[1], (WordCount{"привет", 2}));
  EXPECT_EQ(r->words[2], (WordCount{"naïve", 1}));
  EXPECT_EQ(r->words[3], (WordCount{"日本語", 1}));
}

TEST(WordCountTest, EmptyInputs) {
  for (std::string_view text : {"", "   \n\n", "123 456 !!"}) {
    auto r = CountWords(text);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->total_words, 0u);
    EXPECT_TRUE(r->words.empty());
  }
}

TEST(WordCountTest, RandomTextMatchesReference) {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const std::string text = RandomText(20000 + seed * 777, seed);
    for (std::size_t k : {0, 1, 3, 50}) {
      auto got = CountWords(text, WordCountOptions{.top_k = k});
      ASSERT_TRUE(got.ok());
      ExpectEqual(Reference(text, k), got.value());
      ExpectEqual(Reference(text, k),
                  CountWordsSimple(text, WordCountOptions{.top_k = k}));
    }
  }
}

TEST(WordCountTest, MultiChunkTextMatchesReference) {
  // Several 256 KiB map chunks: words on chunk boundaries must not be split.
  const std::string text = RandomText(3 << 20, 99);
  std::uint64_t last = 0;
  RunControl control;
  control.chunk_seconds = 0.0005;
  auto got = CountWords(text, {}, control,
                        [&](std::uint64_t done, std::uint64_t total) {
                          EXPECT_EQ(total, text.size());
                          EXPECT_GE(done, last);
                          last = done;
                        });
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(last, text.size());
  ExpectEqual(Reference(text, 0), got.value());
}

TEST(WordCountTest, ManyDistinctAndLongWordsMatchReference) {
  // ~100,000 distinct words of 1-40 letters (many over the 16 bytes kept
  // inline in the table), mixed case and non-ASCII, over many chunks: the
  // per-thread tables grow and are merged with long keys.
  const char* const letters[] = {"a", "B", "c",  "D", "e", "É", "ж",
                                 "Ж", "İ", "日", "q", "Z", "x"};
  std::mt19937_64 rng(11);
  std::string text;
  while (text.size() < (3 << 20)) {
    const std::size_t len = 1 + rng() % (rng() % 3 == 0 ? 40 : 8);
    for (std::size_t i = 0; i < len; ++i) text += letters[rng() % 13];
    text += rng() % 7 == 0 ? ",\n" : " ";
  }
  tbb::task_arena two(2);
  two.execute([&] {
    auto got = CountWords(text);
    ASSERT_TRUE(got.ok());
    EXPECT_GT(got->distinct_words, 50000u);
    ExpectEqual(Reference(text, 0), got.value());
  });
}

TEST(WordCountTest, Cancellation) {
  const std::string text = RandomText(2 << 20, 7);
  std::atomic<bool> cancel{true};
  RunControl control;
  control.cancel = &cancel;
  auto r = CountWords(text, {}, control);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kCancelled);
  cancel = false;
  control.chunk_seconds = 0.0001;
  r = CountWords(text, {}, control,
                 [&](std::uint64_t, std::uint64_t) { cancel = true; });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kCancelled);
}

}  // namespace
}  // namespace impulse::analytics
