#include "compute/analytics/word_table.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>
#include <string>

namespace impulse::analytics::internal {
namespace {

void Add(WordTable& t, const std::string& w, std::uint64_t c = 1) {
  if (w.size() <= kShortWord) {
    std::string padded = w + std::string(kShortWord, '\0');
    const ShortKey k = scan_internal::LoadKey(padded.data(), w.size());
    t.AddShort(k, static_cast<std::uint32_t>(w.size()), WordTable::HashShort(k),
               c);
  } else {
    t.AddLong(w, WordTable::HashLong(w.data(), w.size()), c);
  }
}

std::map<std::string, std::uint64_t> Contents(const WordTable& t) {
  std::map<std::string, std::uint64_t> out;
  t.ForEach([&](std::string_view w, std::uint64_t c) {
    EXPECT_TRUE(out.emplace(std::string(w), c).second) << "duplicate " << w;
  });
  EXPECT_EQ(out.size(), t.size());
  return out;
}

std::string RandomWord(std::mt19937_64& rng) {
  // Lengths 1-40 around the inline limit; few letters so words repeat.
  const std::size_t len = 1 + rng() % (rng() % 4 == 0 ? 40 : 17);
  std::string w;
  for (std::size_t i = 0; i < len; ++i) w.push_back("abc\xC3\xA9"[rng() % 5]);
  return w;
}

TEST(WordTableTest, CountsLikeAMapThroughGrowth) {
  std::mt19937_64 rng(7);
  WordTable table(4);  // grows many times
  std::map<std::string, std::uint64_t> want;
  for (int i = 0; i < 200000; ++i) {
    const std::string w = RandomWord(rng);
    const std::uint64_t c = 1 + rng() % 3;
    Add(table, w, c);
    want[w] += c;
  }
  EXPECT_GT(want.size(), 10000u);
  EXPECT_EQ(Contents(table), want);
}

TEST(WordTableTest, KeysDifferingOnlyInLengthOrLastByte) {
  WordTable table;
  const std::string base(40, 'x');
  std::map<std::string, std::uint64_t> want;
  for (std::size_t len = 1; len <= 40; ++len) {
    for (char last : {'x', 'y'}) {
      std::string w = base.substr(0, len);
      w.back() = last;
      Add(table, w, len);
      want[w] += len;
    }
  }
  EXPECT_EQ(Contents(table), want);
}

TEST(WordTableTest, Merge) {
  std::mt19937_64 rng(8);
  WordTable a;
  WordTable b(2);
  std::map<std::string, std::uint64_t> want;
  for (int i = 0; i < 50000; ++i) {
    const std::string w = RandomWord(rng);
    Add(i % 3 == 0 ? a : b, w);
    ++want[w];
  }
  a.Merge(b);
  EXPECT_EQ(Contents(a), want);
  WordTable empty;
  a.Merge(empty);
  EXPECT_EQ(Contents(a), want);
}

}  // namespace
}  // namespace impulse::analytics::internal
