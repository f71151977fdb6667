#include "client/spec_from_flags.h"

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "client/flag_parsing.h"
#include "client/job_format.h"
#include "proto/duration_text.h"

namespace impulse::cli {
namespace {

constexpr std::uint64_t kMaxUint32 = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint64_t kMaxUint64 = std::numeric_limits<std::uint64_t>::max();

std::string ReadSpecFile(const std::string& path, v1::JobSpec* spec) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fmt::format("--spec: cannot read \"{}\": {}", path,
                       std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return fmt::format("--spec: error reading \"{}\"", path);
  }
  auto status = google::protobuf::util::JsonStringToMessage(text.str(), spec);
  if (!status.ok()) {
    return fmt::format(
        "--spec: \"{}\" is not a valid impulse.v1.JobSpec in protobuf JSON: {}",
        path, std::string(status.message().data(), status.message().size()));
  }
  return "";
}

// The first flag of `names` that was given, for "applies to X only" errors.
std::string FirstGiven(
    std::initializer_list<std::pair<const char*, bool>> flags) {
  for (const auto& [name, given] : flags) {
    if (given) return name;
  }
  return "";
}

std::string BuildPi(const SpecFlags& flags, v1::PiSpec* pi) {
  std::uint64_t value = 0;
  if (!flags.samples.empty()) {
    if (auto error =
            ParseUint64("--samples", flags.samples, kMaxUint64, &value);
        !error.empty()) {
      return error;
    }
    pi->set_samples(value);
  }
  if (!flags.seed.empty()) {
    if (auto error = ParseUint64("--seed", flags.seed, kMaxUint64, &value);
        !error.empty()) {
      return error;
    }
    pi->set_seed(value);
  }
  return "";
}

std::string BuildParticles(const SpecFlags& flags, v1::ParticlesSpec* p) {
  std::uint64_t value = 0;
  double real = 0;
  if (!flags.random_particles.empty()) {
    if (auto error = ParseUint64("--random_particles", flags.random_particles,
                                 kMaxUint32, &value);
        !error.empty()) {
      return error;
    }
    p->set_random_particles(static_cast<std::uint32_t>(value));
  }
  if (!flags.seed.empty()) {
    if (auto error = ParseUint64("--seed", flags.seed, kMaxUint64, &value);
        !error.empty()) {
      return error;
    }
    p->set_seed(value);
  }
  if (!flags.t_end.empty()) {
    if (auto error = ParseDouble("--t_end", flags.t_end, &real);
        !error.empty()) {
      return error;
    }
    p->set_t_end(real);
  }
  if (!flags.timestep.empty()) {
    if (auto error = ParseDouble("--timestep", flags.timestep, &real);
        !error.empty()) {
      return error;
    }
    p->set_timestep(real);
  }
  if (!flags.snapshot_every.empty()) {
    if (auto error = ParseUint64("--snapshot_every", flags.snapshot_every,
                                 kMaxUint32, &value);
        !error.empty()) {
      return error;
    }
    p->set_snapshot_every(static_cast<std::uint32_t>(value));
  }
  if (!flags.particles.empty()) {
    p->clear_particles();
    for (const std::string& text : flags.particles) {
      if (auto error = ParseParticle("--particle", text, p->add_particles());
          !error.empty()) {
        return error;
      }
    }
  }
  return "";
}

std::string BuildCommon(const SpecFlags& flags, v1::JobSpec* spec) {
  if (!flags.device.empty()) {
    v1::Device device = v1::AUTO;
    if (auto error = ParseDevice("--device", flags.device, &device);
        !error.empty()) {
      return error;
    }
    spec->set_device(device);
  }
  if (!flags.priority.empty()) {
    std::int64_t priority = 0;
    if (auto error =
            ParseInt64("--priority", flags.priority,
                       std::numeric_limits<std::int32_t>::min(),
                       std::numeric_limits<std::int32_t>::max(), &priority);
        !error.empty()) {
      return error;
    }
    spec->set_priority(static_cast<std::int32_t>(priority));
  }
  if (!flags.idempotency_key.empty()) {
    spec->set_idempotency_key(flags.idempotency_key);
  }
  if (!flags.job_timeout.empty()) {
    std::chrono::nanoseconds timeout{};
    if (!ParseDuration(flags.job_timeout, &timeout)) {
      return fmt::format(
          "--job_timeout: \"{}\" is not a duration; use e.g. 90s, 30m, 2h "
          "or 0 (no limit)",
          flags.job_timeout);
    }
    spec->mutable_timeout()->set_seconds(
        std::chrono::duration_cast<std::chrono::seconds>(timeout).count());
    spec->mutable_timeout()->set_nanos(
        static_cast<std::int32_t>((timeout % std::chrono::seconds(1)).count()));
  }
  for (const std::string& text : flags.labels) {
    std::string key, value;
    if (auto error = ParseLabel("--label", text, &key, &value);
        !error.empty()) {
      return error;
    }
    (*spec->mutable_labels())[key] = value;
  }
  return "";
}

}  // namespace

void AddSpecFlags(CLI::App& command, SpecFlags& flags) {
  command
      .add_option("kind", flags.kind,
                  "job kind: pi or particles (optional with --spec)")
      ->check(CLI::IsMember({"pi", "particles"}));
  command
      .add_option("--spec", flags.spec_file,
                  "read the JobSpec from FILE (protobuf JSON, e.g. "
                  "{\"pi\": {\"samples\": \"1000000\"}}); flags override it")
      ->type_name("FILE");

  const std::string pi = "pi options";
  command
      .add_option("--samples", flags.samples,
                  "points to sample (integer; 1e9 is accepted)")
      ->type_name("N")
      ->group(pi);
  command
      .add_option("--seed", flags.seed,
                  "RNG seed (pi, and particles with --random_particles)")
      ->type_name("N")
      ->group(pi);

  const std::string particles = "particles options";
  command
      .add_option("--random_particles", flags.random_particles,
                  "this many particles with x, y, w uniform in [-1, 1)")
      ->type_name("N")
      ->group(particles);
  command
      .add_option("--particle", flags.particles,
                  "an explicit particle x,y,w: position and angular velocity "
                  "(repeatable)")
      ->type_name("X,Y,W")
      ->allow_extra_args(false)
      ->group(particles);
  command
      .add_option("--t_end", flags.t_end,
                  "simulated time; steps = int(t_end / timestep)")
      ->type_name("T")
      ->group(particles);
  command.add_option("--timestep", flags.timestep, "step size (default 1e-5)")
      ->type_name("DT")
      ->group(particles);
  command
      .add_option("--snapshot_every", flags.snapshot_every,
                  "steps between position snapshots in progress events")
      ->type_name("N")
      ->group(particles);

  const std::string job = "job options";
  command
      .add_option("--device", flags.device,
                  "AUTO (default), CPU or GPU (GPU fails without one)")
      ->type_name("DEV")
      ->group(job);
  command
      .add_option("--priority", flags.priority,
                  "higher runs first; ties run oldest first")
      ->type_name("N")
      ->group(job);
  command
      .add_option("--idempotency_key", flags.idempotency_key,
                  "a retried submit with the same key returns the same job")
      ->type_name("KEY")
      ->group(job);
  command
      .add_option("--job_timeout", flags.job_timeout,
                  "fail the job with DEADLINE_EXCEEDED if it runs longer than "
                  "this (time queued does not count), e.g. 90s, 30m, 2h")
      ->type_name("DURATION")
      ->group(job);
  command.add_option("--label", flags.labels, "a label k=v (repeatable)")
      ->type_name("K=V")
      ->allow_extra_args(false)
      ->group(job);
}

std::string BuildSpec(const SpecFlags& flags, v1::JobSpec* spec) {
  spec->Clear();
  if (!flags.spec_file.empty()) {
    if (auto error = ReadSpecFile(flags.spec_file, spec); !error.empty()) {
      return error;
    }
  }
  std::string kind = KindName(*spec);
  if (!flags.kind.empty()) {
    if (!kind.empty() && kind != flags.kind) {
      return fmt::format("job kind \"{}\" does not match the {} spec in {}",
                         flags.kind, kind, flags.spec_file);
    }
    kind = flags.kind;
  }
  if (kind.empty()) {
    return "say which job to run: pi or particles (e.g. `impulse run pi "
           "--samples 1e9`), or give --spec FILE with one";
  }

  const std::string pi_flag =
      FirstGiven({{"--samples", !flags.samples.empty()}});
  const std::string particles_flag = FirstGiven({
      {"--random_particles", !flags.random_particles.empty()},
      {"--particle", !flags.particles.empty()},
      {"--t_end", !flags.t_end.empty()},
      {"--timestep", !flags.timestep.empty()},
      {"--snapshot_every", !flags.snapshot_every.empty()},
  });
  if (kind == "pi") {
    if (!particles_flag.empty()) {
      return fmt::format("{} applies to particles jobs, not pi",
                         particles_flag);
    }
    if (auto error = BuildPi(flags, spec->mutable_pi()); !error.empty()) {
      return error;
    }
  } else if (kind != "particles") {
    // The analytics kinds (distance_matrix, knn, wordcount, index, table)
    // come from --spec only.
    if (!pi_flag.empty() || !particles_flag.empty()) {
      return fmt::format("{} does not apply to {} jobs",
                         pi_flag.empty() ? particles_flag : pi_flag, kind);
    }
  } else {
    if (!pi_flag.empty()) {
      return fmt::format("{} applies to pi jobs, not particles", pi_flag);
    }
    if (auto error = BuildParticles(flags, spec->mutable_particles());
        !error.empty()) {
      return error;
    }
  }
  return BuildCommon(flags, spec);
}

}  // namespace impulse::cli
