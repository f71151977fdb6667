// Internal: a compact open-addressing hash table of byte strings, each
// distinct key getting a dense id in insertion order. Keys are copied into one
// arena, so the table makes no per-key allocation. Not thread-safe; the
// parallel kernels keep one per thread and merge. Not part of the public API.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace impulse::analytics::internal {

inline std::uint64_t Mix(std::uint64_t a, std::uint64_t b) {
  const __uint128_t r = static_cast<__uint128_t>(a) * b;
  return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
}

inline std::uint64_t Load64(const char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

inline std::uint64_t Load32(const char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// wyhash-style hash of a byte string (fast for short keys).
inline std::uint64_t HashBytes(const char* p, std::size_t n) {
  constexpr std::uint64_t k1 = 0xa0761d6478bd642full;
  constexpr std::uint64_t k2 = 0xe7037ed1a0b428dbull;
  constexpr std::uint64_t k3 = 0x8ebc6af09c88c6e3ull;
  std::uint64_t seed = 0x243F6A8885A308D3ull;
  const std::size_t len = n;
  while (n > 16) {
    seed = Mix(Load64(p) ^ k1, Load64(p + 8) ^ seed);
    p += 16;
    n -= 16;
  }
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  if (n >= 8) {
    a = Load64(p);
    b = Load64(p + n - 8);
  } else if (n >= 4) {
    a = Load32(p);
    b = Load32(p + n - 4);
  } else if (n > 0) {
    const auto* u = reinterpret_cast<const unsigned char*>(p);
    a = (std::uint64_t{u[0]} << 16) | (std::uint64_t{u[n >> 1]} << 8) |
        u[n - 1];
  }
  return Mix(Mix(a ^ k2, b ^ seed) ^ len, k3);
}

inline std::uint64_t HashBytes(std::string_view s) {
  return HashBytes(s.data(), s.size());
}

inline bool EqualBytes(const char* a, const char* b, std::size_t n) {
  if (n >= 8) {
    if (n <= 16) {
      return Load64(a) == Load64(b) && Load64(a + n - 8) == Load64(b + n - 8);
    }
    return std::memcmp(a, b, n) == 0;
  }
  if (n >= 4) {
    return Load32(a) == Load32(b) && Load32(a + n - 4) == Load32(b + n - 4);
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

// Each key carries a 64-bit user value (a count, an id, ...). A slot holds
// the full hash, the length and (for keys of up to 16 bytes) the key itself,
// so a lookup of a short key touches a single 32-byte slot. All keys are also
// kept in insertion order in an arena for iteration by id.
class StringTable {
 public:
  explicit StringTable(std::size_t expected = 256) {
    std::size_t cap = 16;
    while (cap < expected * 2) cap *= 2;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    offsets_.reserve(expected + 1);
    offsets_.push_back(0);
    values_.reserve(expected);
    hashes_.reserve(expected);
  }

  std::size_t size() const { return values_.size(); }

  std::string_view key(std::uint32_t id) const {
    return {arena_.data() + offsets_[id], offsets_[id + 1] - offsets_[id]};
  }
  std::uint64_t hash(std::uint32_t id) const { return hashes_[id]; }
  std::uint64_t& value(std::uint32_t id) { return values_[id]; }
  std::uint64_t value(std::uint32_t id) const { return values_[id]; }

  // Returns (id, true) for a new key (value 0), (id, false) for an existing
  // one.
  std::pair<std::uint32_t, bool> Insert(std::string_view k, std::uint64_t h) {
    std::size_t i = h & mask_;
    while (true) {
      const Slot& s = slots_[i];
      if (s.id_plus1 == 0) break;
      if (Matches(s, k, h)) return {s.id_plus1 - 1, false};
      i = (i + 1) & mask_;
    }
    const auto id = static_cast<std::uint32_t>(values_.size());
    Slot& s = slots_[i];
    s.hash = h;
    s.id_plus1 = id + 1;
    s.len = static_cast<std::uint32_t>(k.size());
    if (k.size() <= kInline) std::memcpy(s.key, k.data(), k.size());
    arena_.append(k);
    offsets_.push_back(arena_.size());
    values_.push_back(0);
    hashes_.push_back(h);
    if (values_.size() * 2 > slots_.size()) Grow();
    return {id, true};
  }
  std::pair<std::uint32_t, bool> Insert(std::string_view k) {
    return Insert(k, HashBytes(k));
  }

  // Cache hint for batched lookups.
  void Prefetch(std::uint64_t h) const {
    __builtin_prefetch(&slots_[h & mask_]);
  }

  // Id of key, or -1.
  std::int64_t Find(std::string_view k, std::uint64_t h) const {
    std::size_t i = h & mask_;
    while (true) {
      const Slot& s = slots_[i];
      if (s.id_plus1 == 0) return -1;
      if (Matches(s, k, h)) return s.id_plus1 - 1;
      i = (i + 1) & mask_;
    }
  }
  std::int64_t Find(std::string_view k) const { return Find(k, HashBytes(k)); }

 private:
  static constexpr std::size_t kInline = 16;
  struct alignas(32) Slot {
    std::uint64_t hash = 0;
    std::uint32_t id_plus1 = 0;  // 0 = empty
    std::uint32_t len = 0;
    char key[kInline] = {};
  };

  bool Matches(const Slot& s, std::string_view k, std::uint64_t h) const {
    if (s.hash != h || s.len != k.size()) return false;
    const char* data =
        k.size() <= kInline ? s.key : arena_.data() + offsets_[s.id_plus1 - 1];
    return EqualBytes(data, k.data(), k.size());
  }

  void Grow() {
    std::vector<Slot> slots(slots_.size() * 2);
    mask_ = slots.size() - 1;
    for (const Slot& s : slots_) {
      if (s.id_plus1 == 0) continue;
      std::size_t i = s.hash & mask_;
      while (slots[i].id_plus1 != 0) i = (i + 1) & mask_;
      slots[i] = s;
    }
    slots_ = std::move(slots);
  }

  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  std::string arena_;                   // all keys, insertion order
  std::vector<std::uint64_t> offsets_;  // id -> arena offset (size + 1)
  std::vector<std::uint64_t> values_;
  std::vector<std::uint64_t> hashes_;
};

}  // namespace impulse::analytics::internal
