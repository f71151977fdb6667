// Internal: the per-thread word -> count table of CountWords. Open addressing
// (linear probing) over 32-byte slots; a slot holds a word of up to 16 bytes
// inline (its ShortKey from word_scan.h) with its length and count, so
// counting a short word touches one slot and compares two 64-bit words,
// without copying, allocating or calling memcmp. Longer words live in an
// arena; their slot holds the arena offset and the full hash. Not
// thread-safe. Not part of the public API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "compute/analytics/string_table.h"
#include "compute/analytics/word_scan.h"

namespace impulse::analytics::internal {

class WordTable {
 public:
  explicit WordTable(std::size_t expected = 1 << 12) {
    std::size_t cap = 16;
    while (cap < expected * 2) cap *= 2;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
  }

  static std::uint64_t HashShort(ShortKey k) {
    return Mix(k.k0 ^ 0xa0761d6478bd642full, k.k1 ^ 0xe7037ed1a0b428dbull);
  }
  static std::uint64_t HashLong(const char* p, std::size_t n) {
    return HashBytes(p, n);
  }

  std::size_t size() const { return size_; }

  void Prefetch(std::uint64_t h) const {
    __builtin_prefetch(&slots_[h & mask_]);
  }

  // Adds `count` to a word of len <= kShortWord bytes (key from LoadKey, h
  // from HashShort).
  void AddShort(ShortKey key, std::uint32_t len, std::uint64_t h,
                std::uint64_t count) {
    std::size_t i = h & mask_;
    while (true) {
      Slot& s = slots_[i];
      if (s.k0 == key.k0 && s.k1 == key.k1 && s.len == len) {
        s.count += count;
        return;
      }
      if (s.len == 0) {
        s = Slot{key.k0, key.k1, len, 0, count};
        if (++size_ * 2 > slots_.size()) Grow();
        return;
      }
      i = (i + 1) & mask_;
    }
  }

  // Adds `count` to a word of more than kShortWord bytes (h from HashLong).
  void AddLong(std::string_view word, std::uint64_t h, std::uint64_t count) {
    const auto len = static_cast<std::uint32_t>(word.size());
    std::size_t i = h & mask_;
    while (true) {
      Slot& s = slots_[i];
      if (s.len == len && s.k1 == h &&
          std::memcmp(arena_.data() + s.k0, word.data(), len) == 0) {
        s.count += count;
        return;
      }
      if (s.len == 0) {
        s = Slot{arena_.size(), h, len, 0, count};
        arena_.append(word);
        if (++size_ * 2 > slots_.size()) Grow();
        return;
      }
      i = (i + 1) & mask_;
    }
  }

  // Adds every word of `other` with its count.
  void Merge(const WordTable& other) {
    other.ForEach([&](std::string_view w, std::uint64_t c) {
      if (w.size() <= kShortWord) {
        ShortKey k;
        std::memcpy(&k, w.data(), w.size());  // slot bytes are zero padded
        std::memset(reinterpret_cast<char*>(&k) + w.size(), 0,
                    sizeof(k) - w.size());
        AddShort(k, static_cast<std::uint32_t>(w.size()), HashShort(k), c);
      } else {
        AddLong(w, HashLong(w.data(), w.size()), c);
      }
    });
  }

  // Calls fn(std::string_view word, std::uint64_t count) for each word; the
  // view is valid until the table changes.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const Slot& s : slots_) {
      if (s.len != 0) fn(Key(s), s.count);
    }
  }

 private:
  static_assert(sizeof(ShortKey) == kShortWord);
  struct alignas(32) Slot {
    std::uint64_t k0;   // short: key bytes 0-7; long: arena offset
    std::uint64_t k1;   // short: key bytes 8-15; long: full hash
    std::uint32_t len;  // 0 = empty
    std::uint32_t unused;
    std::uint64_t count;
  };
  static_assert(sizeof(Slot) == 32 && offsetof(Slot, k0) == 0 &&
                offsetof(Slot, k1) == 8);

  std::string_view Key(const Slot& s) const {
    if (s.len <= kShortWord) {
      return {reinterpret_cast<const char*>(&s), s.len};  // k0, k1
    }
    return {arena_.data() + s.k0, s.len};
  }

  void Grow() {
    std::vector<Slot> slots(slots_.size() * 2, Slot{});
    mask_ = slots.size() - 1;
    for (const Slot& s : slots_) {
      if (s.len == 0) continue;
      const std::uint64_t h =
          s.len <= kShortWord ? HashShort({s.k0, s.k1}) : s.k1;
      std::size_t i = h & mask_;
      while (slots[i].len != 0) i = (i + 1) & mask_;
      slots[i] = s;
    }
    slots_ = std::move(slots);
  }

  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
  std::string arena_;  // bytes of the long words
};

}  // namespace impulse::analytics::internal
