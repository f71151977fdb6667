#include "compute/analytics/tokenizer.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace impulse::analytics {
namespace {

using Words = std::vector<std::string>;

Words Scalar(std::string_view text) {
  Words out;
  std::string scratch;
  ForEachWordScalar(text, scratch,
                    [&](std::string_view w) { out.emplace_back(w); });
  return out;
}

TEST(TokenizerTest, AsciiRules) {
  EXPECT_EQ(Tokenize("Hello, World! hello"),
            (Words{"hello", "world", "hello"}));
  EXPECT_EQ(Tokenize("mp3player don't x1y"),
            (Words{"mp", "player", "don", "t", "x", "y"}));
  EXPECT_EQ(Tokenize("  tabs\tand\nnew-lines\r\n"),
            (Words{"tabs", "and", "new", "lines"}));
  EXPECT_EQ(Tokenize(""), Words{});
  EXPECT_EQ(Tokenize("123 ... !!!"), Words{});
  EXPECT_EQ(Tokenize("ABCxyzQ"), Words{"abcxyzq"});
}

TEST(TokenizerTest, UnicodeLettersAndLowerCase) {
  EXPECT_EQ(Tokenize("Café CAFÉ café"), (Words{"café", "café", "café"}));
  EXPECT_EQ(Tokenize("Straße NAÏVE"), (Words{"straße", "naïve"}));
  EXPECT_EQ(Tokenize("ŁÓDŹ İstanbul Ÿ"), (Words{"łódź", "istanbul", "ÿ"}));
  EXPECT_EQ(Tokenize("ΑΒΓ αβγ Άλφα ΏΡΑ"), (Words{"αβγ", "αβγ", "άλφα", "ώρα"}));
  EXPECT_EQ(Tokenize("ПРИВЕТ, мир! Ёлка ЄІЇ"),
            (Words{"привет", "мир", "ёлка", "єії"}));
  // CJK is a letter run without segmentation; CJK punctuation separates.
  EXPECT_EQ(Tokenize("日本語。中国"), (Words{"日本語", "中国"}));
  // Combining acute accent stays in the word.
  EXPECT_EQ(Tokenize("Cafe\xCC\x81!"), (Words{"cafe\xCC\x81"}));
  // ª µ º are letters; ¿ ¡ « » × are not.
  EXPECT_EQ(Tokenize("«¿Qué?» 3×4 ¡sí! nºª µm"),
            (Words{"qué", "sí", "nºª", "µm"}));
}

TEST(TokenizerTest, UnicodeSeparators) {
  EXPECT_EQ(Tokenize("hello\xE2\x80\x94world"), (Words{"hello", "world"}));
  EXPECT_EQ(Tokenize("a\xC2\xA0"
                     "b"),
            (Words{"a", "b"}));  // NBSP
  EXPECT_EQ(Tokenize("hi\xF0\x9F\x98\x80there"), (Words{"hi", "there"}));
  EXPECT_EQ(Tokenize("\xE2\x80\x9Cquoted\xE2\x80\x9D"), (Words{"quoted"}));
  EXPECT_EQ(Tokenize("\xEF\xBB\xBF"
                     "bom"),
            (Words{"bom"}));
  EXPECT_EQ(Tokenize("x\xE3\x80\x80y"), (Words{"x", "y"}));  // ideographic sp
}

TEST(TokenizerTest, InvalidUtf8IsASeparator) {
  EXPECT_EQ(Tokenize("abc\xFF"
                     "def"),
            (Words{"abc", "def"}));
  EXPECT_EQ(Tokenize("abc\xC3"), (Words{"abc"}));  // truncated
  EXPECT_EQ(Tokenize("ab\xC0\xAF"
                     "cd"),
            (Words{"ab", "cd"}));  // overlong
  EXPECT_EQ(Tokenize("ab\xED\xA0\x80"
                     "cd"),
            (Words{"ab", "cd"}));  // surrogate
  EXPECT_EQ(Tokenize("ab\x80\x80"
                     "cd"),
            (Words{"ab", "cd"}));  // stray cont.
  EXPECT_EQ(Tokenize("ab\xF4\x90\x80\x80"
                     "cd"),
            (Words{"ab", "cd"}));  // >10FFFF
  EXPECT_EQ(Tokenize("\xC3\xA9\xC3"), (Words{"é"}));
}

TEST(TokenizerTest, LowerCodepointAndLetters) {
  EXPECT_EQ(LowerCodepoint(U'A'), U'a');
  EXPECT_EQ(LowerCodepoint(U'Ä'), U'ä');
  EXPECT_EQ(LowerCodepoint(U'×'), U'×');
  EXPECT_EQ(LowerCodepoint(U'Ā'), U'ā');
  EXPECT_EQ(LowerCodepoint(U'Ĺ'), U'ĺ');
  EXPECT_EQ(LowerCodepoint(U'ı'), U'ı');
  EXPECT_EQ(LowerCodepoint(U'Σ'), U'σ');
  EXPECT_EQ(LowerCodepoint(U'ς'), U'ς');
  EXPECT_EQ(LowerCodepoint(U'Ж'), U'ж');
  EXPECT_EQ(LowerCodepoint(U'Ѐ'), U'ѐ');
  EXPECT_EQ(LowerCodepoint(U'Ґ'), U'ґ');
  EXPECT_EQ(LowerCodepoint(U'日'), U'日');
  EXPECT_TRUE(IsWordLetter(U'ß'));
  EXPECT_FALSE(IsWordLetter(U'\u2019'));
  EXPECT_FALSE(IsWordLetter(U'\U0001F600'));
  EXPECT_EQ(LowerText("ÀB-Ç"), "àb-ç");
}

TEST(TokenizerTest, BlockBoundaries) {
  // Words that cross the 64-byte blocks of the fast path, long words, and
  // text lengths around multiples of 64.
  for (std::size_t len = 1; len < 300; ++len) {
    std::string text;
    for (std::size_t i = 0; i < len; ++i) {
      text.push_back(i % 13 == 12 ? ' ' : static_cast<char>('A' + i % 26));
    }
    ASSERT_EQ(Tokenize(text), Scalar(text)) << len;
  }
  const std::string longword(1000, 'Q');
  EXPECT_EQ(Tokenize(longword + " b"), (Words{std::string(1000, 'q'), "b"}));
}

TEST(TokenizerTest, FastPathEqualsScalarOnRandomBytes) {
  const char* const pieces[] = {"a",
                                "Z",
                                "e",
                                " ",
                                ",",
                                "\n",
                                "'",
                                "9",
                                "\xC3\xA9",
                                "\xC3\x89",
                                "\xCE\xA3",
                                "\xD0\x96",
                                "\xE2\x80\x94",
                                "\xF0\x9F\x98\x80",
                                "\xE6\x97\xA5",
                                "\xFF",
                                "\x80",
                                "\xC3",
                                "\xE2\x80",
                                "\xC2\xA0"};
  std::mt19937_64 rng(42);
  for (int round = 0; round < 400; ++round) {
    std::string text;
    const std::size_t n = rng() % 400;
    for (std::size_t i = 0; i < n; ++i) {
      // Mostly letters so words are long enough to cross blocks.
      const std::size_t k = rng() % 40;
      text += k < 20 ? pieces[k % 3] : pieces[k % 20];
    }
    ASSERT_EQ(Tokenize(text), Scalar(text)) << "round " << round;
  }
}

}  // namespace
}  // namespace impulse::analytics
