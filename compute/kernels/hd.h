// IMPULSE_HD marks math that is compiled for both the CPU and the GPU, so the
// CPU tests check exactly the formulas the CUDA kernels run.
#pragma once

#if defined(__CUDACC__)
#define IMPULSE_HD __host__ __device__
#else
#define IMPULSE_HD
#endif
