#include "proto/duration_text.h"

#include <cctype>
#include <cmath>
#include <cstdint>
#include <limits>

namespace impulse {
namespace {

// Nanoseconds per unit, longest names first so "ms" wins over "m".
struct Unit {
  std::string_view name;
  double nanos;
};
constexpr Unit kUnits[] = {
    {"ns", 1.0}, {"us", 1e3},   {"ms", 1e6},    {"s", 1e9},
    {"m", 60e9}, {"h", 3600e9}, {"d", 86400e9},
};

}  // namespace

bool ParseDuration(std::string_view text, std::chrono::nanoseconds* out) {
  if (text == "0") {
    *out = std::chrono::nanoseconds(0);
    return true;
  }
  if (text.empty()) return false;
  double total = 0;
  std::size_t at = 0;
  while (at < text.size()) {
    // The number: digits with at most one '.', at least one digit.
    const std::size_t start = at;
    bool digits = false, dot = false;
    while (at < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[at])) ||
            (text[at] == '.' && !dot))) {
      if (text[at] == '.') {
        dot = true;
      } else {
        digits = true;
      }
      ++at;
    }
    if (!digits) return false;
    const double number =
        std::stod(std::string(text.substr(start, at - start)));
    // The unit: the longest name that matches here.
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (text.substr(at, u.name.size()) == u.name &&
          (unit == nullptr || u.name.size() > unit->name.size())) {
        unit = &u;
      }
    }
    if (unit == nullptr) return false;
    at += unit->name.size();
    total += number * unit->nanos;
  }
  if (!std::isfinite(total) ||
      total >
          static_cast<double>(std::numeric_limits<std::int64_t>::max() / 2)) {
    return false;
  }
  *out =
      std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(total)));
  return true;
}

std::string FormatDuration(std::chrono::nanoseconds duration) {
  using namespace std::chrono;
  const std::int64_t ns = duration.count();
  if (ns == 0) return "0s";
  const bool negative = ns < 0;
  const std::uint64_t abs_ns = negative ? -static_cast<std::uint64_t>(ns)
                                        : static_cast<std::uint64_t>(ns);
  const std::string sign = negative ? "-" : "";
  struct Whole {
    std::uint64_t nanos;
    const char* name;
  };
  for (const Whole& w :
       {Whole{86'400'000'000'000, "d"}, Whole{3'600'000'000'000, "h"},
        Whole{60'000'000'000, "m"}, Whole{1'000'000'000, "s"},
        Whole{1'000'000, "ms"}, Whole{1'000, "us"}}) {
    if (abs_ns % w.nanos == 0) {
      return sign + std::to_string(abs_ns / w.nanos) + w.name;
    }
  }
  return sign + std::to_string(abs_ns) + "ns";
}

}  // namespace impulse
