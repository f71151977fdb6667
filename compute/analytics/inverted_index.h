// Inverted index over a text (book ch2): one document per line, document id =
// 0-based line number. Lines end at '\n' (a '\r' before it is a separator
// like any other non-letter); a final line without '\n' is a document, a
// trailing '\n' does not start an extra empty one; empty lines are empty
// documents. Words come from the tokeniser in tokenizer.h (lower-case,
// letters only, UTF-8 aware).
//
// Query language (boolean, case-sensitive operators):
//   expr   := or
//   or     := and ("OR" and)*
//   and    := unary (["AND"] unary)*      juxtaposition is an implicit AND
//   unary  := "NOT" unary | "(" expr ")" | term
// A term is a run of characters other than whitespace and parentheses; it
// is tokenised like document text (so "Apple" matches "apple", and "don't"
// means don AND t); a term without letters is an error. "and"/"or"/"not" in
// lower case are ordinary words. Precedence: NOT > AND > OR.
// Example: apple AND (banana OR cherry) AND NOT durian
//
// Ranking: score(doc) = sum over the non-negated term occurrences of the
// query of the term's frequency in the doc; sorted by score descending, then
// doc id ascending; paged with offset/limit.
//
// Completion: the n most frequent vocabulary words (total occurrences in the
// corpus) starting with a prefix, ties alphabetically (byte order); the
// vocabulary is sorted and a range-argmax segment tree gives each of the n
// results in O(log V).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "compute/analytics/progress.h"
#include "compute/common/run_control.h"
#include "compute/common/status.h"

namespace impulse::analytics {

class InvertedIndex {
 public:
  struct Posting {
    std::uint32_t doc = 0;
    std::uint32_t tf = 0;  // occurrences of the term in the doc
    bool operator==(const Posting&) const = default;
  };
  struct Hit {
    std::uint32_t doc = 0;
    std::uint64_t score = 0;
    bool operator==(const Hit&) const = default;
  };
  struct QueryResult {
    std::uint64_t total_matches = 0;  // before paging
    std::vector<Hit> hits;            // the requested page
  };
  struct Completion {
    std::string word;
    std::uint64_t frequency = 0;
    bool operator==(const Completion&) const = default;
  };

  // Builds the index in the caller's TBB arena. progress(docs_done,
  // num_docs) between waves; cancel -> kCancelled. At most 2^32 - 1
  // documents and terms (field "text" otherwise). Empty text gives an empty
  // index (0 documents).
  static Result<InvertedIndex> Build(std::string_view text,
                                     const RunControl& control = {},
                                     const ProgressCallback& progress = {});

  std::size_t num_documents() const { return num_docs_; }
  std::size_t vocabulary_size() const { return freq_.size(); }
  std::uint64_t total_terms() const { return total_terms_; }

  // Vocabulary word by id (ids follow byte order of the words).
  std::string_view term(std::size_t id) const {
    return {chars_.data() + offsets_[id], offsets_[id + 1] - offsets_[id]};
  }
  // Postings (doc ascending) of a word; the word is lower-cased first.
  // Empty if unknown.
  std::span<const Posting> postings(std::string_view word) const;
  // Total occurrences of a word in the corpus (0 if unknown).
  std::uint64_t frequency(std::string_view word) const;

  // Evaluates a boolean query (syntax above). Errors: InvalidArgument with
  // field "query" (empty query, unbalanced parentheses, dangling operator,
  // term without letters, nesting deeper than 256).
  Result<QueryResult> Query(std::string_view query, std::size_t offset = 0,
                            std::size_t limit = 10) const;

  // Top-n words starting with `prefix` (lower-cased first; "" = whole
  // vocabulary), most frequent first, ties alphabetically.
  std::vector<Completion> Complete(std::string_view prefix,
                                   std::size_t n) const;

 private:
  friend class IndexBuilder;
  std::int64_t FindTerm(std::string_view lowered) const;
  std::uint32_t Better(std::uint32_t a, std::uint32_t b) const;
  std::uint32_t RangeBest(std::size_t l, std::size_t r) const;

  std::size_t num_docs_ = 0;
  std::uint64_t total_terms_ = 0;
  std::string chars_;                      // sorted vocabulary, concatenated
  std::vector<std::uint64_t> offsets_;     // V + 1
  std::vector<std::uint64_t> freq_;        // V
  std::vector<std::uint64_t> post_begin_;  // V + 1
  std::vector<Posting> postings_;
  std::size_t seg_size_ = 0;        // leaves (power of two)
  std::vector<std::uint32_t> seg_;  // range-argmax tree over freq_
};

}  // namespace impulse::analytics
