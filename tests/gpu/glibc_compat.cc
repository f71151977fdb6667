// Only for the carried, statically linked test binary (gpu_tests_static):
// libstdc++.a's std::random_device refers to arc4random, which glibc added in
// 2.36. Defining it here (on getrandom, glibc 2.25) keeps the binary's newest
// glibc requirement at 2.35 (the static unwinder's _dl_find_object), so it
// also runs on e.g. Ubuntu 22.04 based GPU images.
#include <sys/random.h>
#include <sys/types.h>

extern "C" unsigned int arc4random(void) {
  unsigned int value = 0;
  while (getrandom(&value, sizeof value, 0) !=
         static_cast<ssize_t>(sizeof value)) {
  }
  return value;
}
