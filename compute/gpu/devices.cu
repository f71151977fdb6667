// Device discovery: a machine without a GPU or driver has zero devices, which
// is "CPU only", never an error.
#include <cuda_runtime.h>

#include <string>
#include <vector>

#include "compute/gpu/cuda_util.cuh"
#include "compute/gpu/gpu.h"

namespace impulse::gpu {
namespace {

struct Discovery {
  std::vector<DeviceInfo> devices;
  std::string no_device_reason;
};

std::string DescribeError(cudaError_t err) {
  return std::string(cudaGetErrorString(err)) + " (" + cudaGetErrorName(err) +
         ")";
}

Discovery Discover() {
  Discovery out;
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    // No driver, no device or a driver older than the runtime: CPU only.
    cudaGetLastError();
    out.no_device_reason = "cudaGetDeviceCount: " + DescribeError(err);
    return out;
  }
  std::string skipped;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    const cudaError_t prop_err = cudaGetDeviceProperties(&prop, i);
    if (prop_err != cudaSuccess) {
      cudaGetLastError();
      skipped += "device " + std::to_string(i) +
                 ": cudaGetDeviceProperties: " + DescribeError(prop_err) + "; ";
      continue;
    }
    DeviceInfo info;
    info.index = i;
    info.name = prop.name;
    info.total_memory_bytes = prop.totalGlobalMem;
    info.compute_capability_major = prop.major;
    info.compute_capability_minor = prop.minor;
    info.multiprocessors = prop.multiProcessorCount;
    out.devices.push_back(std::move(info));
  }
  if (out.devices.empty()) {
    out.no_device_reason = count == 0 ? "cudaGetDeviceCount returned 0 devices"
                                      : "no usable device: " + skipped;
  }
  return out;
}

const Discovery& Discovered() {
  static const Discovery* const discovery = new Discovery(Discover());
  return *discovery;
}

}  // namespace

std::vector<DeviceInfo> DiscoverDevices() { return Discovered().devices; }

bool HasDevice() { return !Discovered().devices.empty(); }

std::string NoDeviceReason() { return Discovered().no_device_reason; }

}  // namespace impulse::gpu
