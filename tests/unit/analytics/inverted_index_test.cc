#include "compute/analytics/inverted_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "compute/analytics/tokenizer.h"

namespace impulse::analytics {
namespace {

using Hits = std::vector<InvertedIndex::Hit>;

// Reference corpus: docs split on '\n', tf maps.
struct Corpus {
  std::vector<std::map<std::string, std::uint32_t>> docs;
  std::map<std::string, std::uint64_t> freq;
  explicit Corpus(std::string_view text) {
    std::size_t pos = 0;
    while (pos < text.size()) {
      std::size_t nl = text.find('\n', pos);
      if (nl == std::string_view::npos) nl = text.size();
      docs.emplace_back();
      for (const std::string& w : Tokenize(text.substr(pos, nl - pos))) {
        ++docs.back()[w];
        ++freq[w];
      }
      pos = nl + 1;
    }
  }
};

// Reference query AST and evaluation (doc -> score, or absent).
struct Expr {
  enum Kind { kTerm, kAnd, kOr, kNot } kind;
  std::string term;
  std::shared_ptr<Expr> a, b;
};

std::map<std::uint32_t, std::uint64_t> Eval(const Expr& e, const Corpus& c) {
  std::map<std::uint32_t, std::uint64_t> out;
  const auto n = static_cast<std::uint32_t>(c.docs.size());
  switch (e.kind) {
    case Expr::kTerm:
      for (std::uint32_t d = 0; d < n; ++d) {
        auto it = c.docs[d].find(e.term);
        if (it != c.docs[d].end()) out[d] = it->second;
      }
      break;
    case Expr::kNot: {
      const auto x = Eval(*e.a, c);
      for (std::uint32_t d = 0; d < n; ++d) {
        if (!x.count(d)) out[d] = 0;
      }
      break;
    }
    case Expr::kAnd: {
      const auto x = Eval(*e.a, c);
      const auto y = Eval(*e.b, c);
      for (const auto& [d, s] : x) {
        auto it = y.find(d);
        if (it != y.end()) out[d] = s + it->second;
      }
      break;
    }
    case Expr::kOr: {
      out = Eval(*e.a, c);
      for (const auto& [d, s] : Eval(*e.b, c)) out[d] += s;
      break;
    }
  }
  return out;
}

Hits Rank(const std::map<std::uint32_t, std::uint64_t>& m) {
  Hits h;
  for (const auto& [d, s] : m) h.push_back({d, s});
  std::stable_sort(h.begin(), h.end(), [](const auto& x, const auto& y) {
    return x.score > y.score;
  });
  return h;
}

// Random expression and its text (fully parenthesised binary nodes, or
// precedence-reliant chains).
std::shared_ptr<Expr> RandomExpr(std::mt19937_64& rng,
                                 const std::vector<std::string>& vocab,
                                 int depth, std::string* text) {
  const int r = static_cast<int>(rng() % 10);
  auto e = std::make_shared<Expr>();
  if (depth == 0 || r < 4) {
    e->kind = Expr::kTerm;
    e->term = vocab[rng() % vocab.size()];
    std::string shown = e->term;
    if (rng() % 4 == 0) shown[0] = static_cast<char>(std::toupper(shown[0]));
    *text = shown;
    return e;
  }
  if (r < 6) {
    e->kind = Expr::kNot;
    std::string inner;
    e->a = RandomExpr(rng, vocab, depth - 1, &inner);
    *text = "NOT (" + inner + ")";
    return e;
  }
  e->kind = r < 8 ? Expr::kAnd : Expr::kOr;
  std::string x, y;
  e->a = RandomExpr(rng, vocab, depth - 1, &x);
  e->b = RandomExpr(rng, vocab, depth - 1, &y);
  const char* op = e->kind == Expr::kOr ? " OR " : (rng() % 2 ? " AND " : " ");
  *text = "(" + x + ")" + op + "(" + y + ")";
  return e;
}

std::string RandomCorpus(std::size_t docs, const std::vector<std::string>& v,
                         std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string text;
  for (std::size_t d = 0; d < docs; ++d) {
    const std::size_t words = rng() % 9;  // some empty documents
    for (std::size_t w = 0; w < words; ++w) {
      // Skewed word choice so frequencies differ.
      const std::size_t i = std::min(rng() % v.size(), rng() % v.size());
      text += v[i];
      text += rng() % 5 == 0 ? ", " : " ";
    }
    text += rng() % 10 == 0 ? "\r\n" : "\n";
  }
  return text;
}

const std::vector<std::string>& Vocab() {
  static const std::vector<std::string> v = {
      "apple",  "apply", "apricot", "banana", "band", "bandana",
      "cherry", "chess", "durian",  "date",   "eel",  "egg",
      "fig",    "café",  "cafés",   "zebra"};
  return v;
}

TEST(InvertedIndexTest, BookStyleExample) {
  const std::string text =
      "apple banana\nbanana cherry\n\napple durian\nApple apple cherry\n";
  auto idx = InvertedIndex::Build(text);
  ASSERT_TRUE(idx.ok());
  EXPECT_EQ(idx->num_documents(), 5u);  // the empty line is doc 2
  EXPECT_EQ(idx->vocabulary_size(), 4u);
  EXPECT_EQ(idx->total_terms(), 9u);
  const auto p = idx->postings("APPLE");
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0], (InvertedIndex::Posting{0, 1}));
  EXPECT_EQ(p[1], (InvertedIndex::Posting{3, 1}));
  EXPECT_EQ(p[2], (InvertedIndex::Posting{4, 2}));
  EXPECT_EQ(idx->frequency("apple"), 4u);
  EXPECT_EQ(idx->frequency("kiwi"), 0u);

  auto q = idx->Query("apple AND (banana OR cherry) AND NOT durian");
  ASSERT_TRUE(q.ok()) << q.error().ToString();
  EXPECT_EQ(q->total_matches, 2u);
  EXPECT_EQ(q->hits, (Hits{{4, 3}, {0, 2}}));

  q = idx->Query("NOT apple");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->hits, (Hits{{1, 0}, {2, 0}}));
  q = idx->Query("banana cherry");  // implicit AND
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->hits, (Hits{{1, 2}}));
  q = idx->Query("kiwi OR banana");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->hits, (Hits{{0, 1}, {1, 1}}));
}

TEST(InvertedIndexTest, DocumentsAreLines) {
  auto idx = InvertedIndex::Build("a\n\nb");
  ASSERT_TRUE(idx.ok());
  EXPECT_EQ(idx->num_documents(), 3u);
  idx = InvertedIndex::Build("a\n\n");
  EXPECT_EQ(idx->num_documents(), 2u);
  idx = InvertedIndex::Build("");
  ASSERT_TRUE(idx.ok());
  EXPECT_EQ(idx->num_documents(), 0u);
  EXPECT_EQ(idx->vocabulary_size(), 0u);
  auto q = idx->Query("a OR NOT b");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->total_matches, 0u);
  EXPECT_TRUE(idx->Complete("a", 3).empty());
  idx = InvertedIndex::Build("x\r\ny\r\n");
  EXPECT_EQ(idx->num_documents(), 2u);
  EXPECT_EQ(idx->postings("y")[0].doc, 1u);
}

TEST(InvertedIndexTest, QuerySyntaxErrorsNameQuery) {
  auto idx = InvertedIndex::Build("apple banana\n");
  ASSERT_TRUE(idx.ok());
  for (const char* bad :
       {"", "   ", "apple AND", "(apple", "apple)", "AND apple", "NOT",
        "apple OR OR banana", "123", "()", "apple (", "!!!"}) {
    auto q = idx->Query(bad);
    ASSERT_FALSE(q.ok()) << bad;
    EXPECT_EQ(q.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(q.error().field, "query") << bad;
  }
  std::string deep;
  for (int i = 0; i < 400; ++i) deep += "(";
  deep += "apple";
  for (int i = 0; i < 400; ++i) deep += ")";
  EXPECT_FALSE(idx->Query(deep).ok());
}

TEST(InvertedIndexTest, TermsAreTokenised) {
  auto idx = InvertedIndex::Build("don t\ndon\nand or not\nCafé\n");
  ASSERT_TRUE(idx.ok());
  auto q = idx->Query("don't");  // don AND t
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->hits, (Hits{{0, 2}}));
  q = idx->Query("and or");  // lower-case words are terms
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->hits, (Hits{{2, 2}}));
  q = idx->Query("CAFÉ");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->hits, (Hits{{3, 1}}));
}

TEST(InvertedIndexTest, RandomQueriesMatchReference) {
  const std::string text = RandomCorpus(3000, Vocab(), 17);
  const Corpus corpus(text);
  auto idx = InvertedIndex::Build(text);
  ASSERT_TRUE(idx.ok());
  ASSERT_EQ(idx->num_documents(), corpus.docs.size());
  std::mt19937_64 rng(5);
  for (int i = 0; i < 300; ++i) {
    std::string q;
    const auto e = RandomExpr(rng, Vocab(), 4, &q);
    const Hits want = Rank(Eval(*e, corpus));
    const std::size_t offset = rng() % 3 == 0 ? rng() % 50 : 0;
    const std::size_t limit = 1 + rng() % 40;
    auto got = idx->Query(q, offset, limit);
    ASSERT_TRUE(got.ok()) << q << ": " << got.error().ToString();
    EXPECT_EQ(got->total_matches, want.size()) << q;
    const Hits page(want.begin() + std::min(offset, want.size()),
                    want.begin() + std::min(offset + limit, want.size()));
    ASSERT_EQ(got->hits, page) << q;
  }
}

TEST(InvertedIndexTest, CompleteMatchesReference) {
  const std::string text = RandomCorpus(2000, Vocab(), 23);
  const Corpus corpus(text);
  auto idx = InvertedIndex::Build(text);
  ASSERT_TRUE(idx.ok());
  std::set<std::string> prefixes = {"", "zzz", "A", "CA", "caf", "ba", "q"};
  for (const auto& w : Vocab()) {
    for (std::size_t l = 1; l <= w.size(); ++l) prefixes.insert(w.substr(0, l));
  }
  for (const std::string& p : prefixes) {
    const std::string lp = LowerText(p);
    std::vector<InvertedIndex::Completion> want;
    for (const auto& [w, f] : corpus.freq) {
      if (w.starts_with(lp)) want.push_back({w, f});
    }
    std::stable_sort(
        want.begin(), want.end(),
        [](const auto& a, const auto& b) { return a.frequency > b.frequency; });
    for (std::size_t n : {0, 1, 3, 100}) {
      auto w = want;
      if (w.size() > n) w.resize(n);
      EXPECT_EQ(idx->Complete(p, n), w) << "prefix '" << p << "' n=" << n;
    }
  }
}

TEST(InvertedIndexTest, MultiChunkBuildMatchesReference) {
  // ~1.2 MB: many 128 KiB chunks merged into one index.
  const std::string text = RandomCorpus(60000, Vocab(), 31);
  const Corpus corpus(text);
  std::uint64_t last = 0;
  RunControl control;
  control.chunk_seconds = 0.0005;
  auto idx = InvertedIndex::Build(text, control,
                                  [&](std::uint64_t done, std::uint64_t total) {
                                    EXPECT_EQ(total, corpus.docs.size());
                                    EXPECT_GE(done, last);
                                    last = done;
                                  });
  ASSERT_TRUE(idx.ok());
  EXPECT_EQ(last, corpus.docs.size());
  ASSERT_EQ(idx->num_documents(), corpus.docs.size());
  ASSERT_EQ(idx->vocabulary_size(), corpus.freq.size());
  std::size_t id = 0;
  for (const auto& [w, f] : corpus.freq) {
    ASSERT_EQ(idx->term(id++), w);
    ASSERT_EQ(idx->frequency(w), f);
    std::vector<InvertedIndex::Posting> want;
    for (std::uint32_t d = 0; d < corpus.docs.size(); ++d) {
      auto it = corpus.docs[d].find(w);
      if (it != corpus.docs[d].end()) want.push_back({d, it->second});
    }
    const auto got = idx->postings(w);
    ASSERT_EQ(std::vector<InvertedIndex::Posting>(got.begin(), got.end()), want)
        << w;
  }
}

TEST(InvertedIndexTest, Cancellation) {
  const std::string text = RandomCorpus(60000, Vocab(), 3);
  std::atomic<bool> cancel{true};
  RunControl control;
  control.cancel = &cancel;
  auto idx = InvertedIndex::Build(text, control);
  ASSERT_FALSE(idx.ok());
  EXPECT_EQ(idx.error().code, ErrorCode::kCancelled);
}

}  // namespace
}  // namespace impulse::analytics
