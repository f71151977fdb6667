// Private to compute/gpu: CUDA error mapping, the stream slot behind a lease,
// stream-ordered device buffers, staged transfers and the chunked launcher.
// Only the .cu files include this (it needs the CUDA runtime headers).
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "compute/common/run_control.h"
#include "compute/common/status.h"
#include "compute/gpu/gpu.h"

namespace impulse::gpu::detail {

// kInternal "<call> failed: <cudaGetErrorString> (<cudaGetErrorName>)".
// Clears the calling thread's last-error state for non-sticky errors.
Error CudaError(cudaError_t err, const char* call);

#define IMPULSE_CUDA_RETURN_IF_ERROR(call)                                \
  do {                                                                    \
    const cudaError_t impulse_cuda_err_ = (call);                         \
    if (impulse_cuda_err_ != cudaSuccess) {                               \
      return ::impulse::gpu::detail::CudaError(impulse_cuda_err_, #call); \
    }                                                                     \
  } while (0)

#define IMPULSE_RETURN_IF_ERROR_STATUS(expr)                   \
  do {                                                         \
    ::impulse::Status impulse_status_ = (expr);                \
    if (!impulse_status_.ok()) return impulse_status_.error(); \
  } while (0)

// One stream of a pool. `ready[i]` marks when pinned half i (and the chunk
// written into it) is done; the events use blocking sync so a waiting job
// thread sleeps instead of spinning.
struct StreamSlot {
  int device = 0;
  int index = 0;
  cudaStream_t stream = nullptr;
  cudaEvent_t ready[2] = {nullptr, nullptr};
  void* pinned[2] = {nullptr, nullptr};
  std::size_t pinned_bytes[2] = {0, 0};
  std::size_t default_pinned_bytes = 0;
};

// Makes pinned half `half` at least `bytes` long (at least the default size).
// Only call while no queued work uses that half.
Status EnsurePinned(StreamSlot& slot, int half, std::size_t bytes);

// Makes slot.device current on the calling thread (cudaSetDevice is
// per-thread state).
Status UseDevice(const StreamSlot& slot);

// Host -> device and device -> host copies of `bytes` bytes staged through
// the slot's pinned halves, double-buffered, on the slot's stream only. Both
// return when the data is in place (the host copy is complete; the device
// copy is at least queued ahead of anything queued later on the stream).
Status CopyToDevice(StreamSlot& slot, void* device_dst, const void* host_src,
                    std::size_t bytes);
Status CopyToHost(StreamSlot& slot, void* host_dst, const void* device_src,
                  std::size_t bytes);

// Waits for work queued on the slot's stream (only this stream).
Status SyncStream(StreamSlot& slot);

// A device allocation ordered on one stream (cudaMallocAsync/cudaFreeAsync):
// neither call synchronises the device or other streams.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (ptr_ != nullptr) cudaFreeAsync(ptr_, stream_);
  }
  Status Allocate(std::size_t bytes, cudaStream_t stream, const char* what);
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
  cudaStream_t stream_ = nullptr;
};

// On scope exit waits for everything queued on the stream, so that a job (even
// one failing half-way) leaves its stream idle for the next lease holder.
class StreamDrain {
 public:
  explicit StreamDrain(cudaStream_t stream) : stream_(stream) {}
  StreamDrain(const StreamDrain&) = delete;
  StreamDrain& operator=(const StreamDrain&) = delete;
  ~StreamDrain() {
    cudaStreamSynchronize(stream_);
    cudaGetLastError();
  }

 private:
  cudaStream_t stream_;
};

// Validates a lease and makes its device current.
Result<StreamSlot*> SlotOf(const StreamLease& lease);

// Wall time of one chunk: control.chunk_seconds clamped to [0.1 ms, 20 ms] so
// that with two chunks in flight cancel is observed within ~50 ms.
double TargetChunkSeconds(const RunControl& control);

// Cancellation, progress and launch sizing shared by the kernels.
//
// Runs units [0, total) in chunks, at most two in flight on the slot's stream
// (so the GPU never idles between launches). enqueue(begin, count, half) queues
// the work for [begin, begin + count) and any copy-back into pinned half
// `half`; RunChunked then records ready[half]. done(begin, end, half) runs on
// the calling thread once that chunk is complete (units [0, end) are done);
// an error from it stops the run and is returned.
// Chunk sizes start at `first` and adapt to the measured rate so a chunk takes
// about TargetChunkSeconds(), never above `max_chunk` (pass first == max_chunk
// for fixed-size chunks). Cancel is checked before each launch and after each
// completed chunk; the chunk still in flight is drained and reported before
// returning kCancelled.
template <typename Enqueue, typename Done>
Result<RunOutcome> RunChunked(StreamSlot& slot, std::uint64_t total,
                              std::uint64_t first, std::uint64_t max_chunk,
                              const RunControl& control, Enqueue&& enqueue,
                              Done&& done) {
  using Clock = std::chrono::steady_clock;
  struct InFlight {
    std::uint64_t end = 0;
    std::uint64_t count = 0;
    int half = 0;
    Clock::time_point queued;
  };
  const double target = TargetChunkSeconds(control);
  max_chunk = std::max<std::uint64_t>(max_chunk, 1);
  std::uint64_t chunk = std::clamp<std::uint64_t>(first, 1, max_chunk);
  std::uint64_t issued = 0;
  std::uint64_t sequence = 0;
  InFlight queue[2];
  int head = 0;
  int in_flight = 0;
  bool cancelled = false;
  Clock::time_point last_done = Clock::now();
  while (true) {
    if (!cancelled && control.cancelled()) cancelled = true;
    while (!cancelled && in_flight < 2 && issued < total) {
      const std::uint64_t count = std::min(chunk, total - issued);
      const int half = static_cast<int>(sequence & 1);
      IMPULSE_RETURN_IF_ERROR_STATUS(enqueue(issued, count, half));
      IMPULSE_CUDA_RETURN_IF_ERROR(
          cudaEventRecord(slot.ready[half], slot.stream));
      queue[(head + in_flight) & 1] = {issued + count, count, half,
                                       Clock::now()};
      ++in_flight;
      issued += count;
      ++sequence;
    }
    if (in_flight == 0) break;
    const InFlight front = queue[head];
    IMPULSE_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(slot.ready[front.half]));
    const Clock::time_point now = Clock::now();
    const double seconds =
        std::chrono::duration<double>(now - std::max(front.queued, last_done))
            .count();
    last_done = now;
    head ^= 1;
    --in_flight;
    if (first != max_chunk && seconds > 0.0) {
      // Next chunk from the measured rate, growing at most 4x per chunk.
      const double ideal = static_cast<double>(front.count) * target / seconds;
      const double grown = 4.0 * static_cast<double>(front.count);
      const double next = std::min(ideal, grown);
      chunk =
          next >= static_cast<double>(max_chunk)
              ? max_chunk
              : std::max<std::uint64_t>(1, static_cast<std::uint64_t>(next));
    }
    IMPULSE_RETURN_IF_ERROR_STATUS(
        done(front.end - front.count, front.end, front.half));
    if (control.cancelled()) cancelled = true;
  }
  return cancelled && issued < total ? RunOutcome::kCancelled
                                     : RunOutcome::kCompleted;
}

}  // namespace impulse::gpu::detail
