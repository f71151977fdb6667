#include "server/jobs/job_kind.h"

#include "server/jobs/particles_job.h"
#include "server/jobs/pi_job.h"

namespace impulse::jobs {

const JobKind* FindJobKind(const v1::JobSpec& spec) {
  static const ParticlesJob kParticles;
  static const PiJob kPi;
  switch (spec.kind_case()) {
    case v1::JobSpec::kParticles:
      return &kParticles;
    case v1::JobSpec::kPi:
      return &kPi;
    case v1::JobSpec::KIND_NOT_SET:
      return nullptr;
  }
  return nullptr;
}

}  // namespace impulse::jobs
