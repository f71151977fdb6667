#include "compute/analytics/inverted_index.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <queue>

#include "compute/analytics/string_table.h"
#include "compute/analytics/tokenizer.h"
#include "compute/analytics/waves.h"
#include "compute/common/parallel.h"

namespace impulse::analytics {

namespace {

constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();

// One chunk of whole lines, indexed with chunk-local term ids and doc ids.
struct ChunkIndex {
  std::size_t begin = 0;  // byte range in the text
  std::size_t end = 0;
  std::uint32_t first_doc = 0;
  std::uint32_t num_docs = 0;
  internal::StringTable vocab{1024};             // local term -> value = tf sum
  std::vector<std::uint64_t> term_begin;         // local CSR (V_local + 1)
  std::vector<InvertedIndex::Posting> postings;  // local doc ids
  std::vector<std::uint32_t> global;             // local term -> global id
  std::uint64_t terms = 0;
};

void IndexChunk(std::string_view text, ChunkIndex& c) {
  struct Triple {
    std::uint32_t term;
    std::uint32_t doc;
    std::uint32_t tf;
  };
  std::vector<Triple> triples;
  std::vector<std::uint32_t> ids;
  std::string scratch;
  std::uint32_t doc = 0;
  std::size_t pos = c.begin;
  while (pos < c.end) {
    const void* nl = std::memchr(text.data() + pos, '\n', c.end - pos);
    const std::size_t line_end =
        nl ? static_cast<const char*>(nl) - text.data() : c.end;
    ids.clear();
    ForEachWord(
        text.substr(pos, line_end - pos), scratch,
        [&](std::string_view w) { ids.push_back(c.vocab.Insert(w).first); });
    c.terms += ids.size();
    std::sort(ids.begin(), ids.end());
    for (std::size_t i = 0; i < ids.size();) {
      std::size_t j = i + 1;
      while (j < ids.size() && ids[j] == ids[i]) ++j;
      triples.push_back({ids[i], doc, static_cast<std::uint32_t>(j - i)});
      c.vocab.value(ids[i]) += j - i;
      i = j;
    }
    ++doc;
    pos = line_end + 1;
  }
  // Counting sort by term; docs stay ascending within a term.
  const std::size_t v = c.vocab.size();
  c.term_begin.assign(v + 1, 0);
  for (const Triple& t : triples) ++c.term_begin[t.term + 1];
  for (std::size_t i = 0; i < v; ++i) c.term_begin[i + 1] += c.term_begin[i];
  c.postings.resize(triples.size());
  std::vector<std::uint64_t> cursor(c.term_begin.begin(),
                                    c.term_begin.end() - 1);
  for (const Triple& t : triples) {
    c.postings[cursor[t.term]++] = {t.doc, t.tf};
  }
}

}  // namespace

class IndexBuilder {
 public:
  static Result<InvertedIndex> Build(std::string_view text,
                                     const RunControl& control,
                                     const ProgressCallback& progress) {
    InvertedIndex index;
    // Chunks of whole lines.
    // About four chunks per thread (128 KiB to 8 MiB each): enough for load
    // balance and progress, few enough that merging vocabularies is cheap.
    const std::size_t chunk_bytes = std::clamp<std::size_t>(
        text.size() / (4 * internal::Concurrency()), 128 << 10, 8 << 20);
    std::vector<ChunkIndex> chunks;
    for (std::size_t b = 0; b < text.size();) {
      std::size_t e = std::min(text.size(), b + chunk_bytes);
      if (e < text.size()) {
        const void* nl = std::memchr(text.data() + e, '\n', text.size() - e);
        e = nl ? static_cast<const char*>(nl) - text.data() + 1 : text.size();
      }
      chunks.emplace_back();
      chunks.back().begin = b;
      chunks.back().end = e;
      b = e;
    }
    // Documents per chunk: one per '\n', plus an unterminated last line.
    parallel::ForEach(std::size_t{0}, chunks.size(), [&](std::size_t i) {
      ChunkIndex& c = chunks[i];
      std::uint64_t lines =
          std::count(text.data() + c.begin, text.data() + c.end, '\n');
      if (c.end > c.begin && text[c.end - 1] != '\n') ++lines;
      c.num_docs =
          static_cast<std::uint32_t>(std::min<std::uint64_t>(lines, kNone));
    });
    std::uint64_t docs = 0;
    for (ChunkIndex& c : chunks) {
      if (docs + c.num_docs >= kNone) {
        return Error::InvalidArgument("text", "more than 2^32 - 2 documents");
      }
      c.first_doc = static_cast<std::uint32_t>(docs);
      docs += c.num_docs;
    }
    index.num_docs_ = docs;

    ProgressCallback chunk_progress;
    if (progress) {
      chunk_progress = [&](std::uint64_t done, std::uint64_t) {
        progress(done < chunks.size() ? chunks[done].first_doc : docs, docs);
      };
    }
    if (!internal::RunInWaves(chunks.size(), 2 * internal::Concurrency(), 1,
                              control, chunk_progress,
                              [&](std::size_t b, std::size_t e) {
                                for (std::size_t i = b; i < e; ++i) {
                                  IndexChunk(text, chunks[i]);
                                }
                              })) {
      return CancelledError();
    }
    if (control.cancelled()) return CancelledError();

    // Global vocabulary (value = total frequency), then sorted ids.
    internal::StringTable global(1 << 12);
    for (ChunkIndex& c : chunks) {
      c.global.resize(c.vocab.size());
      for (std::uint32_t l = 0; l < c.vocab.size(); ++l) {
        const auto g = global.Insert(c.vocab.key(l), c.vocab.hash(l)).first;
        global.value(g) += c.vocab.value(l);
        c.global[l] = g;
      }
      index.total_terms_ += c.terms;
    }
    const std::size_t v = global.size();
    if (v >= kNone) {
      return Error::InvalidArgument("text", "more than 2^32 - 2 terms");
    }
    std::vector<std::uint32_t> order(v);
    for (std::uint32_t i = 0; i < v; ++i) order[i] = i;
    parallel::Sort(order.begin(), order.end(),
                   [&](std::uint32_t a, std::uint32_t b) {
                     return global.key(a) < global.key(b);
                   });
    std::vector<std::uint32_t> rank(v);
    index.offsets_.resize(v + 1);
    index.freq_.resize(v);
    std::uint64_t chars = 0;
    for (std::uint32_t r = 0; r < v; ++r) {
      rank[order[r]] = r;
      index.offsets_[r] = chars;
      chars += global.key(order[r]).size();
      index.freq_[r] = global.value(order[r]);
    }
    index.offsets_[v] = chars;
    index.chars_.reserve(chars);
    for (std::uint32_t r = 0; r < v; ++r)
      index.chars_.append(global.key(order[r]));

    // Postings CSR: chunks in order, so docs stay ascending per term.
    index.post_begin_.assign(v + 1, 0);
    for (ChunkIndex& c : chunks) {
      for (std::uint32_t l = 0; l < c.global.size(); ++l) {
        c.global[l] = rank[c.global[l]];
        index.post_begin_[c.global[l] + 1] +=
            c.term_begin[l + 1] - c.term_begin[l];
      }
    }
    for (std::size_t i = 0; i < v; ++i) {
      index.post_begin_[i + 1] += index.post_begin_[i];
    }
    std::vector<std::uint64_t> cursor(index.post_begin_.begin(),
                                      index.post_begin_.end() - 1);
    std::vector<std::vector<std::uint64_t>> dest(chunks.size());
    for (std::size_t ci = 0; ci < chunks.size(); ++ci) {
      ChunkIndex& c = chunks[ci];
      dest[ci].resize(c.global.size());
      for (std::uint32_t l = 0; l < c.global.size(); ++l) {
        dest[ci][l] = cursor[c.global[l]];
        cursor[c.global[l]] += c.term_begin[l + 1] - c.term_begin[l];
      }
    }
    index.postings_.resize(index.post_begin_[v]);
    parallel::ForEach(std::size_t{0}, chunks.size(), [&](std::size_t ci) {
      const ChunkIndex& c = chunks[ci];
      for (std::uint32_t l = 0; l < c.global.size(); ++l) {
        std::uint64_t d = dest[ci][l];
        for (std::uint64_t p = c.term_begin[l]; p < c.term_begin[l + 1]; ++p) {
          index.postings_[d++] = {c.postings[p].doc + c.first_doc,
                                  c.postings[p].tf};
        }
      }
    });

    // Range-argmax segment tree for completion.
    index.seg_size_ = 1;
    while (index.seg_size_ < v) index.seg_size_ *= 2;
    index.seg_.assign(2 * index.seg_size_, kNone);
    for (std::uint32_t i = 0; i < v; ++i) index.seg_[index.seg_size_ + i] = i;
    for (std::size_t i = index.seg_size_ - 1; i >= 1; --i) {
      index.seg_[i] = index.Better(index.seg_[2 * i], index.seg_[2 * i + 1]);
    }
    if (progress) progress(docs, docs);
    return index;
  }
};

Result<InvertedIndex> InvertedIndex::Build(std::string_view text,
                                           const RunControl& control,
                                           const ProgressCallback& progress) {
  return IndexBuilder::Build(text, control, progress);
}

std::uint32_t InvertedIndex::Better(std::uint32_t a, std::uint32_t b) const {
  if (a == kNone) return b;
  if (b == kNone) return a;
  if (freq_[a] != freq_[b]) return freq_[a] > freq_[b] ? a : b;
  return a < b ? a : b;
}

std::uint32_t InvertedIndex::RangeBest(std::size_t l, std::size_t r) const {
  std::uint32_t best = kNone;
  for (l += seg_size_, r += seg_size_; l < r; l /= 2, r /= 2) {
    if (l & 1) best = Better(best, seg_[l++]);
    if (r & 1) best = Better(best, seg_[--r]);
  }
  return best;
}

std::int64_t InvertedIndex::FindTerm(std::string_view w) const {
  std::size_t lo = 0;
  std::size_t hi = freq_.size();
  while (lo < hi) {
    const std::size_t mid = (lo + hi) / 2;
    if (term(mid) < w) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo < freq_.size() && term(lo) == w ? static_cast<std::int64_t>(lo)
                                            : -1;
}

std::span<const InvertedIndex::Posting> InvertedIndex::postings(
    std::string_view word) const {
  const std::int64_t id = FindTerm(LowerText(word));
  if (id < 0) return {};
  return {postings_.data() + post_begin_[id],
          post_begin_[id + 1] - post_begin_[id]};
}

std::uint64_t InvertedIndex::frequency(std::string_view word) const {
  const std::int64_t id = FindTerm(LowerText(word));
  return id < 0 ? 0 : freq_[id];
}

std::vector<InvertedIndex::Completion> InvertedIndex::Complete(
    std::string_view prefix, std::size_t n) const {
  std::vector<Completion> out;
  if (n == 0 || freq_.empty()) return out;
  const std::string p = LowerText(prefix);
  // [lo, hi): the terms starting with p (contiguous in sorted order).
  std::size_t lo = 0;
  std::size_t hi = freq_.size();
  while (lo < hi) {
    const std::size_t mid = (lo + hi) / 2;
    if (term(mid) < p) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  const std::size_t first = lo;
  hi = freq_.size();
  while (lo < hi) {
    const std::size_t mid = (lo + hi) / 2;
    if (term(mid).starts_with(p)) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  const std::size_t last = lo;
  if (first >= last) return out;
  // Best-first over sub-ranges: each pop yields the next result.
  struct Range {
    std::uint32_t best;
    std::size_t l;
    std::size_t r;
  };
  auto worse = [&](const Range& a, const Range& b) {
    return Better(a.best, b.best) == b.best;
  };
  std::priority_queue<Range, std::vector<Range>, decltype(worse)> heap(worse);
  heap.push({RangeBest(first, last), first, last});
  while (!heap.empty() && out.size() < n) {
    const Range top = heap.top();
    heap.pop();
    out.push_back({std::string(term(top.best)), freq_[top.best]});
    if (top.l < top.best)
      heap.push({RangeBest(top.l, top.best), top.l, top.best});
    if (top.best + 1 < top.r) {
      heap.push({RangeBest(top.best + 1, top.r), top.best + 1, top.r});
    }
  }
  return out;
}

// ---- queries ----

namespace {

struct Node {
  enum Kind { kTerm, kAnd, kOr, kNot } kind = kTerm;
  std::string term;
  std::unique_ptr<Node> a;
  std::unique_ptr<Node> b;
};

struct Token {
  enum Kind { kWord, kAnd, kOr, kNot, kOpen, kClose, kEnd } kind;
  std::string_view text;
  std::size_t pos;
};

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
         c == '\v';
}

std::vector<Token> Lex(std::string_view q) {
  std::vector<Token> out;
  std::size_t i = 0;
  while (i < q.size()) {
    if (IsSpace(q[i])) {
      ++i;
    } else if (q[i] == '(') {
      out.push_back({Token::kOpen, q.substr(i, 1), i});
      ++i;
    } else if (q[i] == ')') {
      out.push_back({Token::kClose, q.substr(i, 1), i});
      ++i;
    } else {
      const std::size_t s = i;
      while (i < q.size() && !IsSpace(q[i]) && q[i] != '(' && q[i] != ')') ++i;
      const std::string_view w = q.substr(s, i - s);
      const Token::Kind k = w == "AND"   ? Token::kAnd
                            : w == "OR"  ? Token::kOr
                            : w == "NOT" ? Token::kNot
                                         : Token::kWord;
      out.push_back({k, w, s});
    }
  }
  out.push_back({Token::kEnd, {}, q.size()});
  return out;
}

class Parser {
 public:
  explicit Parser(std::string_view q) : tokens_(Lex(q)) {}

  Result<std::unique_ptr<Node>> Parse() {
    if (tokens_.size() == 1) return Fail("empty query");
    auto n = ParseOr(0);
    if (!n.ok()) return n;
    if (Peek().kind != Token::kEnd) {
      return Fail(Peek().kind == Token::kClose ? "unbalanced ')'"
                                               : "unexpected token");
    }
    return n;
  }

 private:
  const Token& Peek() const { return tokens_[pos_]; }

  Error Fail(const std::string& what) const {
    const Token& t = Peek();
    std::string msg = what + " at position " + std::to_string(t.pos);
    if (t.kind != Token::kEnd) msg += " ('" + std::string(t.text) + "')";
    return Error::InvalidArgument("query", msg);
  }

  static std::unique_ptr<Node> Join(Node::Kind k, std::unique_ptr<Node> a,
                                    std::unique_ptr<Node> b) {
    auto n = std::make_unique<Node>();
    n->kind = k;
    n->a = std::move(a);
    n->b = std::move(b);
    return n;
  }

  Result<std::unique_ptr<Node>> ParseOr(int depth) {
    auto left = ParseAnd(depth);
    if (!left.ok()) return left;
    std::unique_ptr<Node> n = std::move(left.value());
    while (Peek().kind == Token::kOr) {
      ++pos_;
      auto right = ParseAnd(depth);
      if (!right.ok()) return right;
      n = Join(Node::kOr, std::move(n), std::move(right.value()));
    }
    return n;
  }

  Result<std::unique_ptr<Node>> ParseAnd(int depth) {
    auto left = ParseUnary(depth);
    if (!left.ok()) return left;
    std::unique_ptr<Node> n = std::move(left.value());
    while (true) {
      const Token::Kind k = Peek().kind;
      if (k == Token::kAnd) {
        ++pos_;
      } else if (k != Token::kWord && k != Token::kNot && k != Token::kOpen) {
        break;
      }
      auto right = ParseUnary(depth);
      if (!right.ok()) return right;
      n = Join(Node::kAnd, std::move(n), std::move(right.value()));
    }
    return n;
  }

  Result<std::unique_ptr<Node>> ParseUnary(int depth) {
    if (depth > 256) return Fail("query nested too deeply");
    const Token t = Peek();
    switch (t.kind) {
      case Token::kNot: {
        ++pos_;
        auto inner = ParseUnary(depth + 1);
        if (!inner.ok()) return inner;
        return Join(Node::kNot, std::move(inner.value()), nullptr);
      }
      case Token::kOpen: {
        ++pos_;
        auto inner = ParseOr(depth + 1);
        if (!inner.ok()) return inner;
        if (Peek().kind != Token::kClose) return Fail("missing ')'");
        ++pos_;
        return inner;
      }
      case Token::kWord: {
        std::unique_ptr<Node> n;
        std::string scratch;
        ForEachWord(t.text, scratch, [&](std::string_view w) {
          auto leaf = std::make_unique<Node>();
          leaf->term = std::string(w);
          n = n ? Join(Node::kAnd, std::move(n), std::move(leaf))
                : std::move(leaf);
        });
        if (!n) return Fail("term has no letters");
        ++pos_;
        return n;
      }
      case Token::kEnd:
        return Fail("unexpected end of query");
      default:
        return Fail("expected a term, NOT or '('");
    }
  }

  std::vector<Token> tokens_;
  std::size_t pos_ = 0;
};

// A document set with scores; `negated` means "all documents except docs".
struct DocSet {
  bool negated = false;
  std::vector<std::uint32_t> docs;    // ascending
  std::vector<std::uint64_t> scores;  // parallel to docs (unused if negated)
};

DocSet Intersect(const DocSet& a, const DocSet& b) {
  const DocSet& small = a.docs.size() <= b.docs.size() ? a : b;
  const DocSet& large = a.docs.size() <= b.docs.size() ? b : a;
  DocSet out;
  out.docs.reserve(small.docs.size());
  out.scores.reserve(small.docs.size());
  if (small.docs.size() * 16 < large.docs.size()) {
    // Galloping: binary search each small doc in the remaining large range.
    auto it = large.docs.begin();
    for (std::size_t i = 0; i < small.docs.size(); ++i) {
      it = std::lower_bound(it, large.docs.end(), small.docs[i]);
      if (it == large.docs.end()) break;
      if (*it == small.docs[i]) {
        out.docs.push_back(*it);
        out.scores.push_back(small.scores[i] +
                             large.scores[it - large.docs.begin()]);
      }
    }
    return out;
  }
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < a.docs.size() && j < b.docs.size()) {
    if (a.docs[i] < b.docs[j]) {
      ++i;
    } else if (b.docs[j] < a.docs[i]) {
      ++j;
    } else {
      out.docs.push_back(a.docs[i]);
      out.scores.push_back(a.scores[i] + b.scores[j]);
      ++i;
      ++j;
    }
  }
  return out;
}

// a's docs that are not in b (keeps a's scores).
DocSet Minus(const DocSet& a, const std::vector<std::uint32_t>& b) {
  DocSet out;
  std::size_t j = 0;
  for (std::size_t i = 0; i < a.docs.size(); ++i) {
    while (j < b.size() && b[j] < a.docs[i]) ++j;
    if (j < b.size() && b[j] == a.docs[i]) continue;
    out.docs.push_back(a.docs[i]);
    out.scores.push_back(a.scores[i]);
  }
  return out;
}

DocSet Union(const DocSet& a, const DocSet& b) {
  DocSet out;
  out.docs.reserve(a.docs.size() + b.docs.size());
  out.scores.reserve(a.docs.size() + b.docs.size());
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < a.docs.size() || j < b.docs.size()) {
    if (j >= b.docs.size() || (i < a.docs.size() && a.docs[i] < b.docs[j])) {
      out.docs.push_back(a.docs[i]);
      out.scores.push_back(a.scores[i++]);
    } else if (i >= a.docs.size() || b.docs[j] < a.docs[i]) {
      out.docs.push_back(b.docs[j]);
      out.scores.push_back(b.scores[j++]);
    } else {
      out.docs.push_back(a.docs[i]);
      out.scores.push_back(a.scores[i++] + b.scores[j++]);
    }
  }
  return out;
}

// Positive set of all docs not in `docs`, score 0.
DocSet Complement(const std::vector<std::uint32_t>& docs, std::size_t n) {
  DocSet out;
  out.docs.reserve(n - docs.size());
  std::size_t j = 0;
  for (std::uint32_t d = 0; d < n; ++d) {
    if (j < docs.size() && docs[j] == d) {
      ++j;
      continue;
    }
    out.docs.push_back(d);
  }
  out.scores.assign(out.docs.size(), 0);
  return out;
}

}  // namespace

Result<InvertedIndex::QueryResult> InvertedIndex::Query(
    std::string_view query, std::size_t offset, std::size_t limit) const {
  Parser parser(query);
  auto root = parser.Parse();
  if (!root.ok()) return root.error();

  auto eval = [&](auto&& self, const Node& n) -> DocSet {
    switch (n.kind) {
      case Node::kTerm: {
        DocSet s;
        const std::int64_t id = FindTerm(n.term);
        if (id >= 0) {
          const std::uint64_t b = post_begin_[id];
          const std::uint64_t e = post_begin_[id + 1];
          s.docs.resize(e - b);
          s.scores.resize(e - b);
          for (std::uint64_t p = b; p < e; ++p) {
            s.docs[p - b] = postings_[p].doc;
            s.scores[p - b] = postings_[p].tf;
          }
        }
        return s;
      }
      case Node::kNot: {
        DocSet s = self(self, *n.a);
        if (s.negated) {  // NOT (NOT x) == x; terms under NOT score 0
          s.negated = false;
          s.scores.assign(s.docs.size(), 0);
          return s;
        }
        s.negated = true;
        s.scores.clear();
        return s;
      }
      case Node::kAnd: {
        DocSet a = self(self, *n.a);
        DocSet b = self(self, *n.b);
        if (!a.negated && !b.negated) return Intersect(a, b);
        if (!a.negated) return Minus(a, b.docs);
        if (!b.negated) return Minus(b, a.docs);
        DocSet u = Union(a, b);  // NOT x AND NOT y == NOT (x OR y)
        u.negated = true;
        u.scores.clear();
        return u;
      }
      case Node::kOr: {
        DocSet a = self(self, *n.a);
        DocSet b = self(self, *n.b);
        if (!a.negated && !b.negated) return Union(a, b);
        if (a.negated && b.negated) {  // NOT x OR NOT y == NOT (x AND y)
          a.scores.assign(a.docs.size(), 0);
          b.scores.assign(b.docs.size(), 0);
          DocSet s = Intersect(a, b);
          s.negated = true;
          s.scores.clear();
          return s;
        }
        const DocSet& pos = a.negated ? b : a;
        const DocSet& neg = a.negated ? a : b;
        return Union(pos, Minus(Complement(neg.docs, num_docs_), pos.docs));
      }
    }
    return {};
  };
  DocSet s = eval(eval, *root.value());
  if (s.negated) s = Complement(s.docs, num_docs_);

  QueryResult r;
  r.total_matches = s.docs.size();
  const std::size_t n = s.docs.size();
  if (offset >= n || limit == 0) return r;
  const std::size_t end = std::min(n, offset + std::min(limit, n));
  std::vector<std::uint32_t> order(n);
  for (std::uint32_t i = 0; i < n; ++i) order[i] = i;
  auto before = [&](std::uint32_t x, std::uint32_t y) {
    return s.scores[x] != s.scores[y] ? s.scores[x] > s.scores[y]
                                      : s.docs[x] < s.docs[y];
  };
  if (end < n) {
    std::nth_element(order.begin(), order.begin() + end, order.end(), before);
  }
  std::sort(order.begin(), order.begin() + end, before);
  r.hits.reserve(end - offset);
  for (std::size_t i = offset; i < end; ++i) {
    r.hits.push_back({s.docs[order[i]], s.scores[order[i]]});
  }
  return r;
}

}  // namespace impulse::analytics
