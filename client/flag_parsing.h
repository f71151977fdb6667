// Parsing of flag values the CLI accepts: integers written like 1e9, k=v
// labels, x,y,w particles, and enum names. Each parser returns an error
// message naming the flag, or an empty string on success.
#ifndef IMPULSE_CLIENT_FLAG_PARSING_H_
#define IMPULSE_CLIENT_FLAG_PARSING_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "impulse/v1/jobs.pb.h"

namespace impulse::cli {

// Integers may be written exactly ("1000000", "-3") or in floating-point
// notation ("1e9", "2.5e3") as long as the value is a whole number in range.
std::string ParseUint64(std::string_view flag, std::string_view text,
                        std::uint64_t max, std::uint64_t* out);
std::string ParseInt64(std::string_view flag, std::string_view text,
                       std::int64_t min, std::int64_t max, std::int64_t* out);
std::string ParseDouble(std::string_view flag, std::string_view text,
                        double* out);

// "key=value"; the key must be non-empty.
std::string ParseLabel(std::string_view flag, std::string_view text,
                       std::string* key, std::string* value);

// "x,y,w" (angular velocity last).
std::string ParseParticle(std::string_view flag, std::string_view text,
                          v1::Particle* out);

// Case-insensitive enum names: AUTO|CPU|GPU and QUEUED|RUNNING|SUCCEEDED|
// FAILED|CANCELLED.
std::string ParseDevice(std::string_view flag, std::string_view text,
                        v1::Device* out);
std::string ParseJobState(std::string_view flag, std::string_view text,
                          v1::JobState* out);

}  // namespace impulse::cli

#endif  // IMPULSE_CLIENT_FLAG_PARSING_H_
