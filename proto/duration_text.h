// Durations written for people ("90s", "1.5h", "250ms", "7d", "1h30m"), shared
// by impulsed's flags (--retention) and the CLI's (--job_timeout), so both
// read and print them the same way.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace impulse {

// One or more <number><unit> terms, summed: units ns, us, ms, s, m, h, d; the
// number may have a fraction ("1.5h"). A bare "0" is zero. False for anything
// else, a negative value, or more than about 146 years.
bool ParseDuration(std::string_view text, std::chrono::nanoseconds* out);

// In the largest unit that is exact: "2d", "36h", "90m", "45s", "1500ms",
// "250us", "7ns"; "0s" for zero.
std::string FormatDuration(std::chrono::nanoseconds duration);

}  // namespace impulse
