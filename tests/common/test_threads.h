// How many kernel threads a test's server gets: two, so parallel loops split,
// or one under TSan, which cannot see oneTBB's work stealing (Debian's libtbb
// is not instrumented; tools/sanitizers/tsan.supp) and would report every
// loop that splits.
#pragma once

namespace impulse::testing {

#if defined(__SANITIZE_THREAD__)
inline constexpr int kTestCpuThreads = 1;
#else
inline constexpr int kTestCpuThreads = 2;
#endif

}  // namespace impulse::testing
