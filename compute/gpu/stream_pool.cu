// Stream pool, leases, CUDA error mapping and staged transfers.
#include <cuda_runtime.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "compute/gpu/cuda_util.cuh"
#include "compute/gpu/gpu.h"

namespace impulse::gpu {
namespace detail {

Error CudaError(cudaError_t err, const char* call) {
  // Reading the last error clears it for this thread when it is not sticky.
  cudaGetLastError();
  return Error{ErrorCode::kInternal,
               std::string(call) + " failed: " + cudaGetErrorString(err) +
                   " (" + cudaGetErrorName(err) + ")",
               ""};
}

Status UseDevice(const StreamSlot& slot) {
  IMPULSE_CUDA_RETURN_IF_ERROR(cudaSetDevice(slot.device));
  return {};
}

Status EnsurePinned(StreamSlot& slot, int half, std::size_t bytes) {
  bytes = std::max(bytes, slot.default_pinned_bytes);
  if (slot.pinned[half] != nullptr && slot.pinned_bytes[half] >= bytes) {
    return {};
  }
  IMPULSE_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(slot.ready[half]));
  if (slot.pinned[half] != nullptr) {
    IMPULSE_CUDA_RETURN_IF_ERROR(cudaFreeHost(slot.pinned[half]));
    slot.pinned[half] = nullptr;
    slot.pinned_bytes[half] = 0;
  }
  IMPULSE_CUDA_RETURN_IF_ERROR(
      cudaHostAlloc(&slot.pinned[half], bytes, cudaHostAllocPortable));
  slot.pinned_bytes[half] = bytes;
  return {};
}

Status CopyToDevice(StreamSlot& slot, void* device_dst, const void* host_src,
                    std::size_t bytes) {
  if (bytes == 0) return {};
  const std::size_t piece = std::min(bytes, slot.default_pinned_bytes);
  for (int half = 0; half < 2; ++half) {
    IMPULSE_RETURN_IF_ERROR_STATUS(EnsurePinned(slot, half, piece));
  }
  auto* dst = static_cast<char*>(device_dst);
  const auto* src = static_cast<const char*>(host_src);
  int half = 0;
  for (std::size_t offset = 0; offset < bytes; offset += piece, half ^= 1) {
    const std::size_t n = std::min(piece, bytes - offset);
    // The previous copy out of this half must be done before refilling it.
    IMPULSE_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(slot.ready[half]));
    std::memcpy(slot.pinned[half], src + offset, n);
    IMPULSE_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(dst + offset, slot.pinned[half], n,
                        cudaMemcpyHostToDevice, slot.stream));
    IMPULSE_CUDA_RETURN_IF_ERROR(
        cudaEventRecord(slot.ready[half], slot.stream));
  }
  return {};
}

Status CopyToHost(StreamSlot& slot, void* host_dst, const void* device_src,
                  std::size_t bytes) {
  if (bytes == 0) return {};
  const std::size_t piece = std::min(bytes, slot.default_pinned_bytes);
  for (int half = 0; half < 2; ++half) {
    IMPULSE_RETURN_IF_ERROR_STATUS(EnsurePinned(slot, half, piece));
  }
  auto* dst = static_cast<char*>(host_dst);
  const auto* src = static_cast<const char*>(device_src);
  const std::size_t pieces = (bytes + piece - 1) / piece;
  // Piece i goes through half i % 2; piece i+1 is queued before piece i is
  // copied out of pinned memory, so the transfer overlaps the host memcpy.
  for (std::size_t i = 0; i <= pieces; ++i) {
    if (i < pieces) {
      const int half = static_cast<int>(i & 1);
      const std::size_t offset = i * piece;
      const std::size_t n = std::min(piece, bytes - offset);
      IMPULSE_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(slot.ready[half]));
      IMPULSE_CUDA_RETURN_IF_ERROR(
          cudaMemcpyAsync(slot.pinned[half], src + offset, n,
                          cudaMemcpyDeviceToHost, slot.stream));
      IMPULSE_CUDA_RETURN_IF_ERROR(
          cudaEventRecord(slot.ready[half], slot.stream));
    }
    if (i > 0) {
      const int half = static_cast<int>((i - 1) & 1);
      const std::size_t offset = (i - 1) * piece;
      const std::size_t n = std::min(piece, bytes - offset);
      IMPULSE_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(slot.ready[half]));
      std::memcpy(dst + offset, slot.pinned[half], n);
    }
  }
  return {};
}

Status SyncStream(StreamSlot& slot) {
  IMPULSE_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(slot.stream));
  return {};
}

Status DeviceBuffer::Allocate(std::size_t bytes, cudaStream_t stream,
                              const char* what) {
  stream_ = stream;
  if (bytes == 0) return {};
  const cudaError_t err = cudaMallocAsync(&ptr_, bytes, stream);
  if (err != cudaSuccess) {
    ptr_ = nullptr;
    return CudaError(err, (std::string("cudaMallocAsync(") + what + ", " +
                           std::to_string(bytes) + " bytes)")
                              .c_str());
  }
  return {};
}

Result<StreamSlot*> SlotOf(const StreamLease& lease) {
  if (!lease.valid()) {
    return Error{ErrorCode::kFailedPrecondition,
                 "no GPU stream: the stream lease is empty or released", ""};
  }
  StreamSlot* slot = lease.slot();
  IMPULSE_RETURN_IF_ERROR_STATUS(UseDevice(*slot));
  return slot;
}

double TargetChunkSeconds(const RunControl& control) {
  const double t = control.chunk_seconds;
  if (!(t > 0.0)) return 0.005;  // also catches NaN
  return std::clamp(t, 1e-4, 0.02);
}

}  // namespace detail

// ---------------------------------------------------------------------------

struct StreamPool::Impl {
  StreamPoolOptions options;
  std::vector<int> device_ordinals;  // position -> CUDA ordinal
  std::vector<std::unique_ptr<detail::StreamSlot>> slots;
  mutable std::mutex mu;
  std::condition_variable cv;
  std::vector<std::vector<detail::StreamSlot*>> idle;  // per position
  int idle_count = 0;

  int PositionOf(int device) const {
    for (std::size_t p = 0; p < device_ordinals.size(); ++p) {
      if (device_ordinals[p] == device) return static_cast<int>(p);
    }
    return -1;
  }

  bool DeviceExists(int device) const {
    return device == kAnyDevice || PositionOf(device) >= 0;
  }

  // Requires mu. The least busy device for kAnyDevice.
  detail::StreamSlot* TakeLocked(int device) {
    int position = -1;
    if (device == kAnyDevice) {
      std::size_t best = 0;
      for (std::size_t p = 0; p < idle.size(); ++p) {
        if (idle[p].size() > best) {
          best = idle[p].size();
          position = static_cast<int>(p);
        }
      }
    } else {
      position = PositionOf(device);
    }
    if (position < 0 || idle[position].empty()) return nullptr;
    detail::StreamSlot* slot = idle[position].back();
    idle[position].pop_back();
    --idle_count;
    return slot;
  }
};

namespace {

void DestroySlot(detail::StreamSlot& slot) {
  if (cudaSetDevice(slot.device) != cudaSuccess) {
    cudaGetLastError();
    return;
  }
  if (slot.stream != nullptr) {
    cudaStreamSynchronize(slot.stream);
    cudaStreamDestroy(slot.stream);
  }
  for (int half = 0; half < 2; ++half) {
    if (slot.ready[half] != nullptr) cudaEventDestroy(slot.ready[half]);
    if (slot.pinned[half] != nullptr) cudaFreeHost(slot.pinned[half]);
  }
  cudaGetLastError();
}

Status CreateSlot(detail::StreamSlot& slot) {
  IMPULSE_CUDA_RETURN_IF_ERROR(cudaSetDevice(slot.device));
  // Non-blocking: never implicitly ordered with the legacy default stream.
  IMPULSE_CUDA_RETURN_IF_ERROR(
      cudaStreamCreateWithFlags(&slot.stream, cudaStreamNonBlocking));
  for (int half = 0; half < 2; ++half) {
    IMPULSE_CUDA_RETURN_IF_ERROR(cudaEventCreateWithFlags(
        &slot.ready[half], cudaEventBlockingSync | cudaEventDisableTiming));
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<StreamPool>> StreamPool::Create(
    const StreamPoolOptions& options) {
  if (options.streams_per_device < 1) {
    return Error::InvalidArgument("streams_per_device", "must be at least 1");
  }
  if (options.pinned_bytes_per_half < 4096) {
    return Error::InvalidArgument("pinned_bytes_per_half",
                                  "must be at least 4096");
  }
  const std::vector<DeviceInfo> devices = DiscoverDevices();
  if (devices.empty()) {
    return Error{ErrorCode::kFailedPrecondition,
                 "no CUDA device found (" + NoDeviceReason() + ")", ""};
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->idle.resize(devices.size());
  int previous_device = 0;
  const bool restore = cudaGetDevice(&previous_device) == cudaSuccess;
  Status status;
  for (std::size_t p = 0; p < devices.size() && status.ok(); ++p) {
    impl->device_ordinals.push_back(devices[p].index);
    if (cudaSetDevice(devices[p].index) == cudaSuccess) {
      // Keep freed stream-ordered memory cached up to 1 GiB so repeated jobs
      // do not return it to the driver at every synchronisation.
      cudaMemPool_t mem_pool;
      if (cudaDeviceGetDefaultMemPool(&mem_pool, devices[p].index) ==
          cudaSuccess) {
        std::uint64_t threshold = std::uint64_t{1} << 30;
        cudaMemPoolSetAttribute(mem_pool, cudaMemPoolAttrReleaseThreshold,
                                &threshold);
      }
    }
    cudaGetLastError();
    for (int i = 0; i < options.streams_per_device && status.ok(); ++i) {
      auto slot = std::make_unique<detail::StreamSlot>();
      slot->device = devices[p].index;
      slot->index = i;
      slot->default_pinned_bytes = options.pinned_bytes_per_half;
      status = CreateSlot(*slot);
      impl->slots.push_back(std::move(slot));
    }
  }
  if (!status.ok()) {
    for (auto& slot : impl->slots) DestroySlot(*slot);
    if (restore) cudaSetDevice(previous_device);
    return status.error();
  }
  for (auto& slot : impl->slots) {
    impl->idle[impl->PositionOf(slot->device)].push_back(slot.get());
  }
  // Hand out stream 0 first.
  for (auto& list : impl->idle) std::reverse(list.begin(), list.end());
  impl->idle_count = static_cast<int>(impl->slots.size());
  if (restore) cudaSetDevice(previous_device);
  cudaGetLastError();
  return std::unique_ptr<StreamPool>(new StreamPool(std::move(impl)));
}

Result<StreamPool*> StreamPool::Default() {
  static const Result<StreamPool*>* const pool =
      new Result<StreamPool*>([]() -> Result<StreamPool*> {
        auto created = Create();
        if (!created.ok()) return created.error();
        return created.value().release();  // intentionally never destroyed
      }());
  return *pool;
}

StreamPool::StreamPool(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

StreamPool::~StreamPool() {
  for (auto& slot : impl_->slots) DestroySlot(*slot);
}

int StreamPool::device_count() const {
  return static_cast<int>(impl_->device_ordinals.size());
}

int StreamPool::streams_per_device() const {
  return impl_->options.streams_per_device;
}

int StreamPool::total_streams() const {
  return static_cast<int>(impl_->slots.size());
}

int StreamPool::idle_streams() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->idle_count;
}

std::optional<StreamLease> StreamPool::TryAcquire(int device) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  detail::StreamSlot* slot = impl_->TakeLocked(device);
  if (slot == nullptr) return std::nullopt;
  return StreamLease(this, slot);
}

std::optional<StreamLease> StreamPool::AcquireFor(
    std::chrono::milliseconds timeout, int device) {
  if (!impl_->DeviceExists(device)) return std::nullopt;
  std::unique_lock<std::mutex> lock(impl_->mu);
  detail::StreamSlot* slot = nullptr;
  impl_->cv.wait_for(lock, timeout, [&] {
    slot = impl_->TakeLocked(device);
    return slot != nullptr;
  });
  if (slot == nullptr) return std::nullopt;
  return StreamLease(this, slot);
}

StreamLease StreamPool::Acquire(int device) {
  if (!impl_->DeviceExists(device)) return StreamLease();
  std::unique_lock<std::mutex> lock(impl_->mu);
  detail::StreamSlot* slot = nullptr;
  impl_->cv.wait(lock, [&] {
    slot = impl_->TakeLocked(device);
    return slot != nullptr;
  });
  return StreamLease(this, slot);
}

void StreamPool::ReleaseSlot(detail::StreamSlot* slot) {
  // Whatever the holder left queued finishes before the next holder starts.
  if (cudaSetDevice(slot->device) == cudaSuccess) {
    cudaStreamSynchronize(slot->stream);
  }
  cudaGetLastError();
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->idle[impl_->PositionOf(slot->device)].push_back(slot);
    ++impl_->idle_count;
  }
  impl_->cv.notify_all();
}

// ---------------------------------------------------------------------------

StreamLease::StreamLease(StreamLease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)),
      slot_(std::exchange(other.slot_, nullptr)) {}

StreamLease& StreamLease::operator=(StreamLease&& other) noexcept {
  if (this != &other) {
    Release();
    pool_ = std::exchange(other.pool_, nullptr);
    slot_ = std::exchange(other.slot_, nullptr);
  }
  return *this;
}

StreamLease::~StreamLease() { Release(); }

int StreamLease::device() const { return slot_ ? slot_->device : -1; }

int StreamLease::stream_index() const { return slot_ ? slot_->index : -1; }

void StreamLease::Release() {
  if (slot_ != nullptr && pool_ != nullptr) pool_->ReleaseSlot(slot_);
  pool_ = nullptr;
  slot_ = nullptr;
}

}  // namespace impulse::gpu
