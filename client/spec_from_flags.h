// Builds an impulse.v1.JobSpec from the flags of `submit` and `run`, or from
// a protobuf JSON file given with --spec (flags then override its fields).
#ifndef IMPULSE_CLIENT_SPEC_FROM_FLAGS_H_
#define IMPULSE_CLIENT_SPEC_FROM_FLAGS_H_

#include <string>
#include <vector>

#include "impulse/v1/jobs.pb.h"

namespace CLI {
class App;
}  // namespace CLI

namespace impulse::cli {

// Raw flag text; numbers are parsed by BuildSpec so that "1e9" is accepted
// for integer fields and errors name the flag. Empty means "not given".
struct SpecFlags {
  std::string kind;  // positional: pi | particles
  std::string spec_file;
  // pi
  std::string samples;
  // pi and particles
  std::string seed;
  // particles
  std::string random_particles;
  std::string t_end;
  std::string timestep;
  std::string snapshot_every;
  std::vector<std::string> particles;  // each "x,y,w"
  // every kind
  std::string device;
  std::string priority;
  std::string idempotency_key;
  std::vector<std::string> labels;  // each "k=v"
  std::string job_timeout;          // a duration, e.g. "90s"
};

// Adds the kind positional and the spec flags to `command`.
void AddSpecFlags(CLI::App& command, SpecFlags& flags);

// Fills `spec`; returns an error message (a usage error) or "".
std::string BuildSpec(const SpecFlags& flags, v1::JobSpec* spec);

}  // namespace impulse::cli

#endif  // IMPULSE_CLIENT_SPEC_FROM_FLAGS_H_
