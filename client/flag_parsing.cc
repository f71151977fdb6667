#include "client/flag_parsing.h"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace impulse::cli {
namespace {

bool IsExactInteger(std::string_view text) {
  std::size_t i = (!text.empty() && (text[0] == '-' || text[0] == '+')) ? 1 : 0;
  if (i == text.size()) return false;
  for (; i < text.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
  }
  return true;
}

// Parses all of `text` as a finite double; false when it is not one.
bool ParseFiniteDouble(std::string_view text, double* out) {
  if (!text.empty() && text[0] == '+') text.remove_prefix(1);
  if (text.empty()) return false;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *out);
  return ec == std::errc() && ptr == end && std::isfinite(*out);
}

std::string Upper(std::string_view text) {
  std::string upper(text);
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  return upper;
}

// Parses `text` as a whole number in [min, max]: plain digits go through
// from_chars (exact for every 64-bit value), anything else ("1e9") through a
// double that must hold a whole number.
template <typename Int>
std::string ParseWhole(std::string_view flag, std::string_view text, Int min,
                       Int max, Int* out) {
  const std::string range = fmt::format("{} to {}", min, max);
  if (IsExactInteger(text)) {
    std::string_view digits = text;
    if (digits[0] == '+') digits.remove_prefix(1);
    if constexpr (std::is_unsigned_v<Int>) {
      if (digits[0] == '-') {
        return fmt::format("{}: \"{}\" is out of range ({})", flag, text,
                           range);
      }
    }
    Int value{};
    const char* end = digits.data() + digits.size();
    auto [ptr, ec] = std::from_chars(digits.data(), end, value);
    if (ec != std::errc() || ptr != end || value < min || value > max) {
      return fmt::format("{}: \"{}\" is out of range ({})", flag, text, range);
    }
    *out = value;
    return "";
  }
  double value = 0;
  if (!ParseFiniteDouble(text, &value)) {
    return fmt::format("{}: \"{}\" is not a number", flag, text);
  }
  if (std::floor(value) != value) {
    return fmt::format("{}: \"{}\" is not a whole number", flag, text);
  }
  // 2^63 and 2^64 are exact doubles; compare against them, not against
  // max converted to double (which rounds up).
  constexpr double kTwo63 = 9223372036854775808.0;
  constexpr double kTwo64 = 18446744073709551616.0;
  const double limit = std::is_unsigned_v<Int> ? kTwo64 : kTwo63;
  if (value >= limit || value < -kTwo63 ||
      (std::is_unsigned_v<Int> && value < 0)) {
    return fmt::format("{}: \"{}\" is out of range ({})", flag, text, range);
  }
  Int converted = static_cast<Int>(value);
  if (converted < min || converted > max) {
    return fmt::format("{}: \"{}\" is out of range ({})", flag, text, range);
  }
  *out = converted;
  return "";
}

}  // namespace

std::string ParseUint64(std::string_view flag, std::string_view text,
                        std::uint64_t max, std::uint64_t* out) {
  return ParseWhole<std::uint64_t>(flag, text, 0, max, out);
}

std::string ParseInt64(std::string_view flag, std::string_view text,
                       std::int64_t min, std::int64_t max, std::int64_t* out) {
  return ParseWhole<std::int64_t>(flag, text, min, max, out);
}

std::string ParseDouble(std::string_view flag, std::string_view text,
                        double* out) {
  if (!ParseFiniteDouble(text, out)) {
    return fmt::format("{}: \"{}\" is not a number", flag, text);
  }
  return "";
}

std::string ParseLabel(std::string_view flag, std::string_view text,
                       std::string* key, std::string* value) {
  const std::size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return fmt::format("{}: \"{}\" is not key=value", flag, text);
  }
  *key = std::string(text.substr(0, eq));
  *value = std::string(text.substr(eq + 1));
  return "";
}

std::string ParseParticle(std::string_view flag, std::string_view text,
                          v1::Particle* out) {
  std::array<double, 3> values{};
  std::string_view rest = text;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::size_t comma = rest.find(',');
    const bool last = i + 1 == values.size();
    if (last != (comma == std::string_view::npos) ||
        !ParseFiniteDouble(rest.substr(0, comma), &values[i])) {
      return fmt::format(
          "{}: \"{}\" is not x,y,w (three numbers: position and angular "
          "velocity)",
          flag, text);
    }
    if (!last) rest.remove_prefix(comma + 1);
  }
  out->set_x(values[0]);
  out->set_y(values[1]);
  out->set_angular_velocity(values[2]);
  return "";
}

std::string ParseDevice(std::string_view flag, std::string_view text,
                        v1::Device* out) {
  const std::string upper = Upper(text);
  if (upper == "AUTO" || upper == "CPU" || upper == "GPU") {
    v1::Device_Parse(upper, out);
    return "";
  }
  return fmt::format("{}: \"{}\" is not one of AUTO, CPU, GPU", flag, text);
}

std::string ParseJobState(std::string_view flag, std::string_view text,
                          v1::JobState* out) {
  const std::string upper = Upper(text);
  if (upper == "QUEUED" || upper == "RUNNING" || upper == "SUCCEEDED" ||
      upper == "FAILED" || upper == "CANCELLED") {
    v1::JobState_Parse(upper, out);
    return "";
  }
  return fmt::format(
      "{}: \"{}\" is not one of QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED",
      flag, text);
}

}  // namespace impulse::cli
