// `particles`: the book's circular-motion simulator (ch1) as a job kind.
#pragma once

#include "server/jobs/job_kind.h"

namespace impulse::jobs {

class ParticlesJob final : public JobKind {
 public:
  std::string_view name() const override { return "particles"; }
  Status Validate(const v1::JobSpec& spec, const Limits& limits) const override;
  bool HasGpuPath() const override { return true; }
  bool PrefersGpu(const v1::JobSpec& spec) const override;
  Result<v1::JobResult> Run(const v1::JobSpec& spec, v1::Device device,
                            JobContext& context) const override;
};

}  // namespace impulse::jobs
