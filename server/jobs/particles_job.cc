#include "server/jobs/particles_job.h"

#include <cmath>
#include <string>

#include "compute/cpu/particles_cpu.h"
#include "compute/gpu/gpu.h"
#include "compute/kernels/particles.h"

namespace impulse::jobs {
namespace {

constexpr std::size_t kSnapshotMaxParticles = 1000;

double TimestepOf(const v1::ParticlesSpec& spec) {
  return spec.has_timestep() ? spec.timestep() : kernels::kDefaultTimestep;
}

cpu::ParticleSystem BuildSystem(const v1::ParticlesSpec& spec) {
  if (spec.random_particles() > 0) {
    return cpu::RandomParticles(spec.random_particles(), spec.seed());
  }
  cpu::ParticleSystem system;
  const int n = spec.particles_size();
  system.x.reserve(n);
  system.y.reserve(n);
  system.w.reserve(n);
  for (const v1::Particle& p : spec.particles()) {
    system.x.push_back(p.x());
    system.y.push_back(p.y());
    system.w.push_back(p.angular_velocity());
  }
  return system;
}

}  // namespace

bool ParticlesJob::PrefersGpu(const v1::JobSpec& job_spec) const {
  // One GPU thread per particle: worth it with enough particles to fill the
  // device and enough work to hide the transfers.
  const v1::ParticlesSpec& spec = job_spec.particles();
  const double n = spec.random_particles() > 0 ? spec.random_particles()
                                               : spec.particles_size();
  const double steps = spec.t_end() / TimestepOf(spec);
  return n >= 10'000 && n * steps >= 1e9;
}

Status ParticlesJob::Validate(const v1::JobSpec& job_spec,
                              const Limits& limits) const {
  const v1::ParticlesSpec& spec = job_spec.particles();
  const std::string base = "spec.particles.";
  const bool explicit_particles = spec.particles_size() > 0;
  if (!explicit_particles && spec.random_particles() == 0) {
    return Error::InvalidArgument(
        base + "particles", "no particles: give particles or random_particles");
  }
  if (explicit_particles && spec.random_particles() > 0) {
    return Error::InvalidArgument(
        base + "random_particles",
        "give either particles or random_particles, not both");
  }
  const std::uint64_t count =
      explicit_particles ? static_cast<std::uint64_t>(spec.particles_size())
                         : spec.random_particles();
  if (count > limits.max_particles) {
    return Error::InvalidArgument(
        base + (explicit_particles ? "particles" : "random_particles"),
        std::to_string(count) + " particles is over the limit of " +
            std::to_string(limits.max_particles));
  }
  for (int i = 0; i < spec.particles_size(); ++i) {
    const v1::Particle& p = spec.particles(i);
    const std::string field = base + "particles[" + std::to_string(i) + "]";
    if (!std::isfinite(p.x()))
      return Error::InvalidArgument(field + ".x", "must be a finite number");
    if (!std::isfinite(p.y()))
      return Error::InvalidArgument(field + ".y", "must be a finite number");
    if (!std::isfinite(p.angular_velocity())) {
      return Error::InvalidArgument(field + ".angular_velocity",
                                    "must be a finite number");
    }
    if (p.x() == 0.0 && p.y() == 0.0) {
      return Error::InvalidArgument(
          field, "a particle at the origin has no defined velocity");
    }
  }
  if (!std::isfinite(spec.t_end()) || spec.t_end() < 0) {
    return Error::InvalidArgument(base + "t_end",
                                  "must be a finite number >= 0");
  }
  const double timestep = TimestepOf(spec);
  if (!std::isfinite(timestep) || timestep <= 0) {
    return Error::InvalidArgument(base + "timestep",
                                  "must be a finite number > 0");
  }
  const double steps = spec.t_end() / timestep;
  if (steps > static_cast<double>(limits.max_steps)) {
    return Error::InvalidArgument(
        base + "t_end", "t_end / timestep is over the limit of " +
                            std::to_string(limits.max_steps) + " steps");
  }
  if (steps * static_cast<double>(count) >
      static_cast<double>(limits.max_particle_steps)) {
    return Error::InvalidArgument(
        base + "t_end", "particles x steps is over the limit of " +
                            std::to_string(limits.max_particle_steps));
  }
  return {};
}

Result<v1::JobResult> ParticlesJob::Run(const v1::JobSpec& job_spec,
                                        v1::Device device,
                                        JobContext& context) const {
  const v1::ParticlesSpec& spec = job_spec.particles();
  const double timestep = TimestepOf(spec);
  const std::uint64_t steps =
      kernels::ParticleStepCount(spec.t_end(), timestep);
  cpu::ParticleSystem system = BuildSystem(spec);
  const std::uint64_t n = system.size();

  std::uint64_t last_snapshot = 0;
  auto progress_event = [&](std::uint64_t done) {
    v1::JobEvent event;
    event.set_type(v1::PROGRESS);
    event.set_fraction(steps == 0 ? 1.0 : static_cast<double>(done) / steps);
    (*event.mutable_counters())["steps"] = done;
    (*event.mutable_counters())["particle_steps"] = done * n;
    return event;
  };
  auto on_chunk_counters = [&](std::uint64_t done) {
    context.ReportProgress(progress_event(done));
  };
  auto on_chunk = [&](std::uint64_t done) {
    v1::JobEvent event = progress_event(done);
    if (spec.snapshot_every() > 0 &&
        (done - last_snapshot >= spec.snapshot_every() || done == steps)) {
      last_snapshot = done;
      v1::ParticlesSnapshot* snap = event.mutable_particles();
      snap->set_step(done);
      const std::size_t shown = std::min<std::size_t>(n, kSnapshotMaxParticles);
      snap->mutable_x()->Add(system.x.begin(), system.x.begin() + shown);
      snap->mutable_y()->Add(system.y.begin(), system.y.begin() + shown);
    }
    context.ReportProgress(std::move(event));
  };
  RunOutcome outcome;
  if (device == v1::GPU) {
    // Positions stay on the GPU until the end, so no snapshots here.
    Result<RunOutcome> ran = gpu::EvolveParticles(
        system, timestep, steps, context.control(), on_chunk_counters);
    if (!ran.ok()) return ran.error();
    outcome = ran.value();
  } else {
    outcome = cpu::EvolveParticles(system, timestep, steps, context.control(),
                                   on_chunk);
  }
  if (outcome == RunOutcome::kCancelled) {
    return Error{ErrorCode::kCancelled, "cancelled", ""};
  }

  v1::JobResult result;
  v1::ParticlesResult* out = result.mutable_particles();
  out->mutable_x()->Add(system.x.begin(), system.x.end());
  out->mutable_y()->Add(system.y.begin(), system.y.end());
  out->set_total_particles(n);
  out->set_steps(steps);
  return result;
}

}  // namespace impulse::jobs
