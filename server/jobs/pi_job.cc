#include "server/jobs/pi_job.h"

#include <string>

#include "compute/cpu/pi_cpu.h"
#include "compute/gpu/gpu.h"
#include "compute/kernels/pi.h"

namespace impulse::jobs {
namespace {

void FillEstimate(const PiCount& count, v1::PiEstimate* out) {
  out->set_samples(count.samples);
  out->set_hits(count.hits);
  out->set_estimate(kernels::PiEstimate(count.hits, count.samples));
}

}  // namespace

bool PiJob::PrefersGpu(const v1::JobSpec& spec) const {
  // Below this the launch and copy overhead outweighs the CPU's ~1e9/s.
  return spec.pi().samples() >= 100'000'000;
}

Status PiJob::Validate(const v1::JobSpec& spec, const Limits& limits) const {
  const std::uint64_t samples = spec.pi().samples();
  if (samples == 0) {
    return Error::InvalidArgument("spec.pi.samples", "must be at least 1");
  }
  if (samples > limits.max_pi_samples) {
    return Error::InvalidArgument(
        "spec.pi.samples", std::to_string(samples) + " is over the limit of " +
                               std::to_string(limits.max_pi_samples));
  }
  return {};
}

Result<v1::JobResult> PiJob::Run(const v1::JobSpec& spec, v1::Device device,
                                 JobContext& context) const {
  const std::uint64_t samples = spec.pi().samples();
  PiCount count;
  auto on_chunk = [&](const PiCount& so_far) {
    v1::JobEvent event;
    event.set_type(v1::PROGRESS);
    event.set_fraction(static_cast<double>(so_far.samples) / samples);
    (*event.mutable_counters())["samples"] = so_far.samples;
    (*event.mutable_counters())["hits"] = so_far.hits;
    FillEstimate(so_far, event.mutable_pi());
    context.ReportProgress(std::move(event));
  };
  RunOutcome outcome;
  if (device == v1::GPU) {
    Result<RunOutcome> ran = gpu::CountPiHits(
        samples, spec.pi().seed(), context.control(), &count, on_chunk);
    if (!ran.ok()) return ran.error();
    outcome = ran.value();
  } else {
    outcome = cpu::CountPiHits(samples, spec.pi().seed(), context.control(),
                               &count, on_chunk);
  }
  if (outcome == RunOutcome::kCancelled) {
    return Error{ErrorCode::kCancelled, "cancelled", ""};
  }
  v1::JobResult result;
  v1::PiResult* pi = result.mutable_pi();
  pi->set_samples(count.samples);
  pi->set_hits(count.hits);
  pi->set_estimate(kernels::PiEstimate(count.hits, count.samples));
  return result;
}

}  // namespace impulse::jobs
