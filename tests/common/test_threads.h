// How many kernel threads a test's server gets: two, so parallel loops split
// (under TSan too: compute/common/parallel.h makes oneTBB's hand-offs
// visible to it).
#pragma once

namespace impulse::testing {

inline constexpr int kTestCpuThreads = 2;

}  // namespace impulse::testing
