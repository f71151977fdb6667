// Internal: number parsing shared by the CSV reader and table filters. Not
// part of the public API.
#pragma once

#include <charconv>
#include <cstdint>
#include <limits>
#include <string_view>
#include <system_error>

namespace impulse::analytics::internal {

// Strips ASCII spaces and tabs at both ends.
inline std::string_view Trim(std::string_view v) {
  if (!v.empty() && v.front() > ' ' && v.back() > ' ') return v;  // common
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
    v.remove_prefix(1);
  }
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) {
    v.remove_suffix(1);
  }
  return v;
}

inline bool IsBlank(std::string_view v) { return Trim(v).empty(); }

// Optional sign and decimal digits, no overflow (spaces around ignored).
inline bool ParseInt64(std::string_view v, std::int64_t* out) {
  v = Trim(v);
  if (v.empty()) return false;
  std::size_t i = 0;
  bool neg = false;
  if (v[0] == '+' || v[0] == '-') {
    neg = v[0] == '-';
    i = 1;
    if (v.size() == 1) return false;
  }
  std::uint64_t acc = 0;
  if (v.size() - i <= 18) {  // cannot overflow: no per-digit check
    for (; i < v.size(); ++i) {
      const unsigned d = static_cast<unsigned char>(v[i]) - '0';
      if (d > 9) return false;
      acc = acc * 10 + d;
    }
  } else {
    for (; i < v.size(); ++i) {
      const unsigned d = static_cast<unsigned char>(v[i]) - '0';
      if (d > 9) return false;
      if (acc > (std::numeric_limits<std::uint64_t>::max() - d) / 10) {
        return false;
      }
      acc = acc * 10 + d;
    }
  }
  if (neg) {
    if (acc > std::uint64_t{1} << 63) return false;
    *out = static_cast<std::int64_t>(0 - acc);
  } else {
    if (acc >
        static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return false;
    }
    *out = static_cast<std::int64_t>(acc);
  }
  return true;
}

// std::from_chars (general format: decimal, exponent, inf, nan) plus an
// optional leading '+'; the whole (trimmed) text must be consumed.
// Fast path (Clinger): a plain decimal with at most 15 significant digits is
// m / 10^k with both exactly representable, so one correctly rounded
// division gives the same result as from_chars.
inline bool ParseDouble(std::string_view v, double* out) {
  v = Trim(v);
  if (v.empty()) return false;
  {
    static constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3, 1e4,  1e5,
                                        1e6,  1e7,  1e8,  1e9, 1e10, 1e11,
                                        1e12, 1e13, 1e14, 1e15};
    std::size_t i = 0;
    const bool neg = v[0] == '-';
    if (v[0] == '-' || v[0] == '+') i = 1;
    std::uint64_t m = 0;
    int digits = 0;
    int frac = -1;  // digits after '.', -1 while no '.'
    bool ok = i < v.size();
    for (; i < v.size(); ++i) {
      const unsigned d = static_cast<unsigned char>(v[i]) - '0';
      if (d <= 9) {
        m = m * 10 + d;
        ++digits;
        if (frac >= 0) ++frac;
      } else if (v[i] == '.' && frac < 0) {
        frac = 0;
      } else {
        ok = false;
        break;
      }
    }
    if (ok && digits > 0 && digits <= 15) {
      double d = static_cast<double>(m);
      if (frac > 0) d /= kPow10[frac];
      *out = neg ? -d : d;
      return true;
    }
  }
  if (v[0] == '+') {
    v.remove_prefix(1);
    if (v.empty() || v[0] == '-' || v[0] == '+') return false;
  }
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), *out);
  return ec == std::errc() && p == v.data() + v.size();
}

}  // namespace impulse::analytics::internal
