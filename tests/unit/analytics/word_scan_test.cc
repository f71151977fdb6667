#include "compute/analytics/word_scan.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "compute/analytics/tokenizer.h"

namespace impulse::analytics::internal {
namespace {

using Words = std::vector<std::string>;

Words Scalar(std::string_view text) {
  Words out;
  std::string scratch;
  ForEachWordScalar(text, scratch,
                    [&](std::string_view w) { out.emplace_back(w); });
  return out;
}

// Scans with one variant; also checks that each short word's key holds its
// bytes, zero padded.
Words Scan(std::string_view text, ScanVariant v, ScanBuffers& buffers) {
  Words out;
  ScanWords(
      text, buffers,
      [&](const char* w, std::size_t len, ShortKey key) {
        out.emplace_back(w, len);
        char want[sizeof(ShortKey)] = {};
        if (len <= kShortWord) std::memcpy(want, w, len);
        EXPECT_EQ(std::memcmp(&key, want, sizeof(want)), 0) << out.back();
      },
      v);
  return out;
}

std::vector<ScanVariant> Variants() {
  std::vector<ScanVariant> out;
  for (ScanVariant v : {ScanVariant::kPortable, ScanVariant::kSse2,
                        ScanVariant::kAvx2, ScanVariant::kAvx512}) {
    if (ScanVariantSupported(v)) out.push_back(v);
  }
  return out;
}

// Every supported variant, on fresh and on reused (dirty) buffers, gives the
// scalar tokeniser's words.
void ExpectSameAsScalar(std::string_view text, const std::string& what) {
  const Words want = Scalar(text);
  static ScanBuffers reused;
  for (ScanVariant v : Variants()) {
    ScanBuffers fresh;
    ASSERT_EQ(Scan(text, v, fresh), want) << what << " " << ScanVariantName(v);
    ASSERT_EQ(Scan(text, v, reused), want) << what << " " << ScanVariantName(v);
  }
}

TEST(WordScanTest, DefaultVariantIsSupported) {
  EXPECT_TRUE(ScanVariantSupported(DefaultScanVariant()));
  EXPECT_TRUE(ScanVariantSupported(ScanVariant::kPortable));
}

TEST(WordScanTest, Examples) {
  ExpectSameAsScalar("", "empty");
  ExpectSameAsScalar("   \n\t123 !!", "no letters");
  ExpectSameAsScalar("Hello, World! hello mp3player don't", "ascii");
  ExpectSameAsScalar("Café CAFÉ café Straße NAÏVE ŁÓDŹ İstanbul Ÿ", "latin");
  ExpectSameAsScalar("ΑΒΓ αβγ Άλφα ΏΡΑ ПРИВЕТ, мир! Ёлка ЄІЇ", "greek");
  ExpectSameAsScalar(
      "日本語。中国 hi\xF0\x9F\x98\x80there a\xC2\xA0"
      "b",
      "cjk");
  ExpectSameAsScalar(
      "abc\xFF"
      "def ab\xC0\xAF"
      "cd ab\xED\xA0\x80"
      "cd \xC3\xA9\xC3",
      "invalid");
  ScanBuffers buffers;
  EXPECT_EQ(Scan("İİİ ABCdef xİx×İ", DefaultScanVariant(), buffers),
            (Words{"iii", "abcdef", "xix", "i"}));
}

TEST(WordScanTest, LengthsAroundBlocksAndPieces) {
  // Words crossing 64-byte blocks and 4 KiB pieces, texts ending inside a
  // word exactly at a block end, and words of 15-17 bytes (the key limit).
  for (std::size_t len : {1, 15, 16, 17, 63, 64, 65, 127, 128, 129, 4095, 4096,
                          4097, 8191, 8192, 8193, 12288}) {
    for (std::size_t period : {3, 13, 16, 17, 18, 100, 5000}) {
      std::string text;
      for (std::size_t i = 0; i < len; ++i) {
        text.push_back(
            i % period == period - 1
                ? ' '
                : static_cast<char>((i % 7 == 0 ? 'A' : 'a') + i % 26));
      }
      ExpectSameAsScalar(text, "len " + std::to_string(len) + " period " +
                                   std::to_string(period));
    }
  }
}

TEST(WordScanTest, EveryNumberOfRunsPerBlock) {
  // Periods 2-70 give every count of run starts and ends per 64-byte block
  // (1-32); the bit-scan loops special-case counts above 8 and 16.
  for (std::size_t period = 2; period <= 70; ++period) {
    for (std::size_t gap = 1; gap < period && gap <= 3; ++gap) {
      std::string text;
      for (std::size_t i = 0; i < 9000; ++i) {
        // Letters vary so that no two nearby words are equal.
        text.push_back(i % period < gap
                           ? ' '
                           : static_cast<char>('a' + (i * 7 + i / 26) % 26));
      }
      ExpectSameAsScalar(text, "period " + std::to_string(period) + " gap " +
                                   std::to_string(gap));
    }
  }
}

TEST(WordScanTest, AllByteValues) {
  // Every byte next to letters (the letter range edges @ [ ` { and 0x7F,
  // controls, NUL), then random bytes.
  std::string text;
  for (int c = 0; c < 256; ++c) {
    text += "aZ";
    text.push_back(static_cast<char>(c));
    text += "Qb ";
  }
  ExpectSameAsScalar(text, "all bytes");
  std::mt19937_64 rng(5);
  for (int round = 0; round < 50; ++round) {
    std::string random(rng() % 5000, '\0');
    for (char& c : random) c = static_cast<char>(rng());
    ExpectSameAsScalar(random, "random bytes " + std::to_string(round));
  }
}

TEST(WordScanTest, VeryLongWords) {
  std::string text = "x " + std::string(10000, 'Q') + " y ";
  for (int i = 0; i < 3000; ++i) text += i % 2 ? "É" : "ж";
  text += "Z ";
  text += std::string(5000, 'b') + "\xE2\x80\x94" + std::string(20, 'C');
  ExpectSameAsScalar(text, "long");
  ScanBuffers buffers;
  const Words words = Scan(text, DefaultScanVariant(), buffers);
  ASSERT_EQ(words.size(), 6u);
  EXPECT_EQ(words[1], std::string(10000, 'q'));
}

TEST(WordScanTest, RandomTextEqualsScalar) {
  const char* const pieces[] = {"a",
                                "Z",
                                "e",
                                "Q",
                                " ",
                                ",",
                                "\n",
                                "'",
                                "9",
                                "\xC3\xA9",          // é
                                "\xC3\x89",          // É
                                "\xCE\xA3",          // Σ
                                "\xD0\x96",          // Ж
                                "\xC4\xB0",          // İ
                                "\xC5\xB8",          // Ÿ
                                "\xC2\xB5",          // µ (letter)
                                "\xC3\x97",          // × (separator)
                                "\xE2\x80\x94",      // em dash
                                "\xF0\x9F\x98\x80",  // emoji
                                "\xE6\x97\xA5",      // 日
                                "\xF0\x90\x8C\xB0",  // Gothic letter
                                "\xCC\x81",          // combining acute
                                "\xFF",
                                "\x80",
                                "\xC3",
                                "\xE2\x80",
                                "\xC2\xA0",
                                "\xC0\xAF"};
  constexpr std::size_t kPieces = sizeof(pieces) / sizeof(pieces[0]);
  std::mt19937_64 rng(42);
  for (int round = 0; round < 300; ++round) {
    std::string text;
    const std::size_t n = rng() % (round < 200 ? 300 : 6000);
    const unsigned letters = rng() % 100;  // % of picks that are letters
    for (std::size_t i = 0; i < n; ++i) {
      text +=
          rng() % 100 < letters ? pieces[rng() % 4] : pieces[rng() % kPieces];
    }
    ExpectSameAsScalar(text, "round " + std::to_string(round));
  }
}

TEST(WordScanTest, TextsOverTheMaximumAreCutAtSeparators) {
  // The real limit is 2 GiB; a small one exercises the same cuts, and the
  // fallback for a word that runs past the limit to the end of the text.
  std::mt19937_64 rng(3);
  std::vector<std::string> texts = {
      std::string(300, 'A'),
      "ab cd " + std::string(300, 'x'),
      "Ünïcödé wörds, " + std::string(200, 'E') + "\xC3\x89 end",
  };
  for (int i = 0; i < 20; ++i) {
    std::string t;
    while (t.size() < 2000) {
      t += std::string(1 + rng() % 60, static_cast<char>('a' + rng() % 26));
      t += rng() % 2 ? "\xD0\x96" : "";
      t += " ,."[rng() % 3];
    }
    texts.push_back(t);
  }
  for (const std::string& text : texts) {
    const Words want = Scalar(text);
    for (std::size_t max_bytes : {1, 7, 64, 100, 1000}) {
      Words got;
      ScanBuffers buffers;
      ScanWords(
          text, buffers,
          [&](const char* w, std::size_t len, ShortKey key) {
            got.emplace_back(w, len);
            char padded[sizeof(ShortKey)] = {};
            if (len <= kShortWord) std::memcpy(padded, w, len);
            EXPECT_EQ(std::memcmp(&key, padded, sizeof(key)), 0);
          },
          DefaultScanVariant(), max_bytes);
      ASSERT_EQ(got, want) << "max_bytes " << max_bytes << " " << text;
    }
  }
}

TEST(WordScanTest, EveryTwoByteCodePoint) {
  // Each U+0080-U+07FF between letters, upper- and lower-case neighbours.
  std::string text;
  for (char32_t cp = 0x80; cp < 0x800; ++cp) {
    text += "A";
    tokenizer_internal::AppendUtf8(cp, &text);
    text += cp % 5 == 0 ? " " : "b";
  }
  ExpectSameAsScalar(text, "two-byte");
}

}  // namespace
}  // namespace impulse::analytics::internal
