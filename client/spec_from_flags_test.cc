#include "client/spec_from_flags.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <limits>
#include <string>

#include "client/flag_parsing.h"

namespace impulse::cli {
namespace {

TEST(ParseUint64, AcceptsPlainAndScientificWholeNumbers) {
  std::uint64_t value = 0;
  EXPECT_EQ(ParseUint64("--samples", "1000000", UINT64_MAX, &value), "");
  EXPECT_EQ(value, 1'000'000u);
  EXPECT_EQ(ParseUint64("--samples", "1e9", UINT64_MAX, &value), "");
  EXPECT_EQ(value, 1'000'000'000u);
  EXPECT_EQ(ParseUint64("--samples", "2.5e3", UINT64_MAX, &value), "");
  EXPECT_EQ(value, 2500u);
  EXPECT_EQ(ParseUint64("--seed", "18446744073709551615", UINT64_MAX, &value),
            "");
  EXPECT_EQ(value, UINT64_MAX);
}

TEST(ParseUint64, RejectsFractionsNegativesAndOverflowNamingTheFlag) {
  std::uint64_t value = 0;
  EXPECT_NE(ParseUint64("--samples", "1.5", UINT64_MAX, &value)
                .find("--samples: \"1.5\" is not a whole number"),
            std::string::npos);
  EXPECT_NE(
      ParseUint64("--samples", "-1", UINT64_MAX, &value).find("out of range"),
      std::string::npos);
  EXPECT_NE(
      ParseUint64("--samples", "1e20", UINT64_MAX, &value).find("out of range"),
      std::string::npos);
  EXPECT_NE(ParseUint64("--seed", "18446744073709551616", UINT64_MAX, &value)
                .find("out of range"),
            std::string::npos);
  EXPECT_NE(ParseUint64("--random_particles", "5e9", UINT32_MAX, &value)
                .find("out of range"),
            std::string::npos);
  EXPECT_NE(ParseUint64("--samples", "abc", UINT64_MAX, &value)
                .find("is not a number"),
            std::string::npos);
  EXPECT_NE(ParseUint64("--samples", "", UINT64_MAX, &value), "");
  EXPECT_NE(ParseUint64("--samples", "inf", UINT64_MAX, &value), "");
  EXPECT_NE(ParseUint64("--samples", "1e9x", UINT64_MAX, &value), "");
}

TEST(ParseInt64, AcceptsNegativesWithinRange) {
  std::int64_t value = 0;
  EXPECT_EQ(ParseInt64("--priority", "-3", INT32_MIN, INT32_MAX, &value), "");
  EXPECT_EQ(value, -3);
  EXPECT_EQ(ParseInt64("--priority", "-1e3", INT32_MIN, INT32_MAX, &value), "");
  EXPECT_EQ(value, -1000);
  EXPECT_NE(ParseInt64("--priority", "1e10", INT32_MIN, INT32_MAX, &value), "");
}

TEST(ParseParticle, NeedsThreeNumbers) {
  v1::Particle particle;
  EXPECT_EQ(ParseParticle("--particle", "-0.1,-0.4,3", &particle), "");
  EXPECT_DOUBLE_EQ(particle.x(), -0.1);
  EXPECT_DOUBLE_EQ(particle.y(), -0.4);
  EXPECT_DOUBLE_EQ(particle.angular_velocity(), 3);
  EXPECT_NE(ParseParticle("--particle", "1,2", &particle), "");
  EXPECT_NE(ParseParticle("--particle", "1,2,3,4", &particle), "");
  EXPECT_NE(ParseParticle("--particle", "1,,3", &particle), "");
}

TEST(BuildSpec, PiFromFlags) {
  SpecFlags flags;
  flags.kind = "pi";
  flags.samples = "1e9";
  flags.seed = "7";
  flags.device = "cpu";
  flags.priority = "5";
  flags.labels = {"team=research", "empty="};
  v1::JobSpec spec;
  ASSERT_EQ(BuildSpec(flags, &spec), "");
  EXPECT_EQ(spec.pi().samples(), 1'000'000'000u);
  EXPECT_EQ(spec.pi().seed(), 7u);
  EXPECT_EQ(spec.device(), v1::CPU);
  EXPECT_EQ(spec.priority(), 5);
  EXPECT_EQ(spec.labels().at("team"), "research");
  EXPECT_EQ(spec.labels().at("empty"), "");
}

TEST(BuildSpec, JobTimeoutIsADuration) {
  SpecFlags flags;
  flags.kind = "pi";
  flags.samples = "1000";
  flags.job_timeout = "1m30.5s";
  v1::JobSpec spec;
  ASSERT_EQ(BuildSpec(flags, &spec), "");
  EXPECT_EQ(spec.timeout().seconds(), 90);
  EXPECT_EQ(spec.timeout().nanos(), 500'000'000);
  flags.job_timeout = "ten minutes";
  const std::string error = BuildSpec(flags, &spec);
  EXPECT_NE(error.find("--job_timeout"), std::string::npos) << error;
}

TEST(BuildSpec, ParticlesFromFlags) {
  SpecFlags flags;
  flags.kind = "particles";
  flags.particles = {"0.3,0.5,1", "0,-0.5,-1"};
  flags.t_end = "0.1";
  flags.timestep = "1e-5";
  v1::JobSpec spec;
  ASSERT_EQ(BuildSpec(flags, &spec), "");
  ASSERT_EQ(spec.particles().particles_size(), 2);
  EXPECT_DOUBLE_EQ(spec.particles().particles(1).angular_velocity(), -1);
  EXPECT_DOUBLE_EQ(spec.particles().t_end(), 0.1);
  EXPECT_TRUE(spec.particles().has_timestep());
}

TEST(BuildSpec, RejectsMissingKindAndFlagsOfTheOtherKind) {
  SpecFlags flags;
  v1::JobSpec spec;
  EXPECT_NE(BuildSpec(flags, &spec), "");
  flags.kind = "pi";
  flags.t_end = "1";
  EXPECT_NE(BuildSpec(flags, &spec).find("--t_end"), std::string::npos);
  flags = SpecFlags{};
  flags.kind = "particles";
  flags.samples = "10";
  EXPECT_NE(BuildSpec(flags, &spec).find("--samples"), std::string::npos);
}

std::string WriteTemp(const std::string& name, const std::string& text) {
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(BuildSpec, SpecFileWithFlagOverrides) {
  SpecFlags flags;
  flags.spec_file = WriteTemp(
      "spec.json",
      R"({"pi": {"samples": "1000000", "seed": "7"}, "device": "CPU"})");
  flags.samples = "2e6";
  v1::JobSpec spec;
  ASSERT_EQ(BuildSpec(flags, &spec), "");
  EXPECT_EQ(spec.pi().samples(), 2'000'000u);
  EXPECT_EQ(spec.pi().seed(), 7u);
  EXPECT_EQ(spec.device(), v1::CPU);

  flags.kind = "particles";
  EXPECT_NE(BuildSpec(flags, &spec).find("does not match"), std::string::npos);
}

TEST(BuildSpec, SpecFileErrorsAreClear) {
  SpecFlags flags;
  v1::JobSpec spec;
  flags.spec_file = "/nonexistent/spec.json";
  EXPECT_NE(BuildSpec(flags, &spec).find("cannot read"), std::string::npos);
  flags.spec_file = WriteTemp("bad.json", R"({"pi": {"samples": "many"}})");
  EXPECT_NE(BuildSpec(flags, &spec).find("pi.samples"), std::string::npos);
  flags.spec_file = WriteTemp("broken.json", "{not json");
  EXPECT_NE(BuildSpec(flags, &spec).find("not a valid impulse.v1.JobSpec"),
            std::string::npos);
}

}  // namespace
}  // namespace impulse::cli
