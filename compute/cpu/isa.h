// Which SIMD instruction set the CPU kernels use. The hot loops are compiled
// once per instruction set (GCC `target` variants) and picked at run time, so
// one binary uses AVX-512 or AVX2 where present and still runs on any x86-64.
#pragma once

namespace impulse::cpu {

enum class Isa {
  kScalar,  // baseline x86-64 (SSE2) or a non-x86 CPU
  kAvx2,    // AVX2 and FMA
  kAvx512,  // AVX-512F
};

// True when this CPU and OS can run code built for `isa`.
bool IsaSupported(Isa isa);

// The instruction set the kernels use: the best supported one, or a lower one
// when the environment variable IMPULSE_CPU_ISA (scalar, avx2, avx512) asks for
// it (for benchmarks and debugging; a request above what the CPU supports is
// ignored). Decided once per process.
Isa ActiveIsa();

const char* IsaName(Isa isa);

}  // namespace impulse::cpu
