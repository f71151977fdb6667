// One job kind (particles, pi, ...): validates its part of a JobSpec and runs
// it on the CPU or GPU, reporting progress through a JobContext. Kinds hold no
// state; the registry maps a JobSpec's `kind` to its JobKind.
#pragma once

#include <cstdint>
#include <string_view>

#include "compute/common/run_control.h"
#include "compute/common/status.h"
#include "impulse/v1/jobs.pb.h"

namespace impulse::jobs {

// Size limits that keep one job from taking the whole server; set by flags.
struct Limits {
  std::uint64_t max_particles = 10'000'000;
  std::uint64_t max_steps = 100'000'000;
  std::uint64_t max_particle_steps = 10'000'000'000'000;  // ~1 h at 2e9/s
  std::uint64_t max_pi_samples = 10'000'000'000'000;
};

// What a running job sees of the server.
class JobContext {
 public:
  virtual ~JobContext() = default;
  // Cancel flag and chunking hints for the kernels.
  virtual const RunControl& control() const = 0;
  // Appends a PROGRESS event; the kind fills fraction, counters and partial.
  // Cheap to call every chunk: the event log coalesces.
  virtual void ReportProgress(v1::JobEvent event) = 0;
};

class JobKind {
 public:
  virtual ~JobKind() = default;
  virtual std::string_view name() const = 0;
  // Checks the kind's own sub-message; errors name the field
  // ("spec.pi.samples").
  virtual Status Validate(const v1::JobSpec& spec,
                          const Limits& limits) const = 0;
  // Whether a GPU implementation exists and the job is big enough to gain
  // from it (AUTO placement).
  virtual bool PrefersGpu(const v1::JobSpec& spec) const { return false; }
  virtual bool HasGpuPath() const { return false; }
  // Runs the job to completion; an Error with kCancelled when cancelled.
  virtual Result<v1::JobResult> Run(const v1::JobSpec& spec, v1::Device device,
                                    JobContext& context) const = 0;
};

// The kind for spec.kind, or nullptr when none is set.
const JobKind* FindJobKind(const v1::JobSpec& spec);

}  // namespace impulse::jobs
