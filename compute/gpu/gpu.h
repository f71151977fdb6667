// CUDA implementations of the compute kernels, behind a plain C++ API: this
// header is compiled by g++ and includes no CUDA headers. The .cu files in this
// package implement it.
//
// Model: a StreamPool owns N CUDA streams per device, each with its own pinned
// host staging buffers. A job takes a StreamLease (one running job per stream),
// runs on that stream only (it never synchronises the device or other
// streams), and reports progress and observes cancellation between kernel
// launches, exactly like the CPU API in compute/cpu/. Every CUDA error becomes
// an impulse::Error (kInternal, naming the CUDA call) returned for that job.
//
// On a machine without a GPU or without the NVIDIA driver, DiscoverDevices()
// returns no devices, StreamPool::Create() and the pool-less job overloads
// return kFailedPrecondition; nothing throws or aborts.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "compute/common/particle_system.h"
#include "compute/common/run_control.h"
#include "compute/common/status.h"

namespace impulse::gpu {

// ---------------------------------------------------------------------------
// Devices

struct DeviceInfo {
  int index = 0;  // CUDA device ordinal (after CUDA_VISIBLE_DEVICES)
  std::string name;
  std::uint64_t total_memory_bytes = 0;
  int compute_capability_major = 0;
  int compute_capability_minor = 0;
  int multiprocessors = 0;
};

// The CUDA devices this process can use; empty when there is no GPU, no
// driver or an unusable driver (that is "CPU only", not an error). Queried
// once per process; later calls return the same list. Thread-safe.
std::vector<DeviceInfo> DiscoverDevices();

// True when DiscoverDevices() is non-empty.
bool HasDevice();

// Why no device was found (e.g. "cudaGetDeviceCount: CUDA driver version is
// insufficient for CUDA runtime version (cudaErrorInsufficientDriver)"), or ""
// when there are devices.
std::string NoDeviceReason();

// ---------------------------------------------------------------------------
// Stream pool

namespace detail {
struct StreamSlot;  // one stream with its events and staging buffers
}  // namespace detail

class StreamPool;

inline constexpr int kAnyDevice = -1;

// Exclusive use of one stream of a pool until destroyed or Release()d. Jobs
// take a lease by reference; one job at a time per lease. Movable.
class StreamLease {
 public:
  StreamLease() = default;
  StreamLease(StreamLease&& other) noexcept;
  StreamLease& operator=(StreamLease&& other) noexcept;
  StreamLease(const StreamLease&) = delete;
  StreamLease& operator=(const StreamLease&) = delete;
  ~StreamLease();

  bool valid() const { return slot_ != nullptr; }
  int device() const;        // device ordinal, -1 when invalid
  int stream_index() const;  // 0 .. streams_per_device-1, -1 when invalid
  // Returns the stream to its pool now (waiting for its queued work first).
  void Release();

  // For the implementation in compute/gpu only.
  detail::StreamSlot* slot() const { return slot_; }

 private:
  friend class StreamPool;
  StreamLease(StreamPool* pool, detail::StreamSlot* slot)
      : pool_(pool), slot_(slot) {}
  StreamPool* pool_ = nullptr;
  detail::StreamSlot* slot_ = nullptr;
};

struct StreamPoolOptions {
  int streams_per_device = 4;
  // Pinned (page-locked) host staging per stream, two halves of this size
  // each; allocated on first use and grown when one transfer unit needs more.
  std::size_t pinned_bytes_per_half = std::size_t{8} << 20;
};

class StreamPool {
 public:
  // Creates the streams on every device. kFailedPrecondition when there is no
  // device; kInternal (with the CUDA error) when stream creation fails.
  static Result<std::unique_ptr<StreamPool>> Create(
      const StreamPoolOptions& options = {});
  // A process-wide pool with default options, created on first use and never
  // destroyed. Same errors as Create() (cached).
  static Result<StreamPool*> Default();

  // Every lease must have been released before the pool is destroyed.
  ~StreamPool();
  StreamPool(const StreamPool&) = delete;
  StreamPool& operator=(const StreamPool&) = delete;

  int device_count() const;
  int streams_per_device() const;
  int total_streams() const;
  int idle_streams() const;

  // A free stream on `device` (or on the least busy device for kAnyDevice);
  // nullopt when none is free or the device does not exist.
  std::optional<StreamLease> TryAcquire(int device = kAnyDevice);
  // Waits up to `timeout` for a free stream.
  std::optional<StreamLease> AcquireFor(std::chrono::milliseconds timeout,
                                        int device = kAnyDevice);
  // Waits until a stream is free. `device` must exist.
  StreamLease Acquire(int device = kAnyDevice);

  struct Impl;

 private:
  friend class StreamLease;
  explicit StreamPool(std::unique_ptr<Impl> impl);
  void ReleaseSlot(detail::StreamSlot* slot);
  std::unique_ptr<Impl> impl_;
};

// ---------------------------------------------------------------------------
// Particles (same shapes as compute/cpu/particles_cpu.h)

using ::impulse::ParticleSystem;

// Called between chunks with the number of steps completed so far. The host
// `system` is NOT updated during the run (positions live on the GPU); it
// holds the final state when EvolveParticles returns.
using StepsDoneCallback = std::function<void(std::uint64_t steps_done)>;

// Runs `steps` steps of kernels::ParticleStep on every particle, one GPU
// thread per particle, in chunks of steps sized from control.chunk_seconds.
// kCancelled if control.cancel was seen: the system then holds the state after
// the last completed chunk. Errors: kInvalidArgument (x/y/w sizes differ, bad
// timestep), kFailedPrecondition (invalid lease), kInternal (CUDA error; the
// system is unchanged unless the error hit the final copy back).
Result<RunOutcome> EvolveParticles(StreamLease& lease, ParticleSystem& system,
                                   double timestep, std::uint64_t steps,
                                   const RunControl& control,
                                   const StepsDoneCallback& on_chunk = {});
// The same on a stream of StreamPool::Default() (waits for a free stream);
// kFailedPrecondition when there is no GPU.
Result<RunOutcome> EvolveParticles(ParticleSystem& system, double timestep,
                                   std::uint64_t steps,
                                   const RunControl& control,
                                   const StepsDoneCallback& on_chunk = {});

// ---------------------------------------------------------------------------
// Monte Carlo pi (same shapes as compute/cpu/pi_cpu.h)

using ::impulse::PiCount;

// Called between chunks with the running totals; a partial count is the exact
// count of the prefix [0, so_far.samples), bit-identical to the CPU.
using PiProgressCallback = std::function<void(const PiCount& so_far)>;

// Counts hits among samples [0, samples) with kernels::PiBlockHits (64-bit
// counts). On kCancelled, *out holds the exact count of the completed prefix.
Result<RunOutcome> CountPiHits(StreamLease& lease, std::uint64_t samples,
                               std::uint64_t seed, const RunControl& control,
                               PiCount* out,
                               const PiProgressCallback& on_chunk = {});
Result<RunOutcome> CountPiHits(std::uint64_t samples, std::uint64_t seed,
                               const RunControl& control, PiCount* out,
                               const PiProgressCallback& on_chunk = {});

// ---------------------------------------------------------------------------
// Distance matrix of N 2-D points (same shapes as StreamDistanceMatrix in
// compute/analytics/distance_matrix.h; these std::function types are the very
// same types as analytics::DistanceBlockCallback / ProgressCallback, so one
// callback object serves both paths)

// Called on the calling thread with each finished block of rows
// [row_begin, row_end), in row order (row-major, (row_end - row_begin) * N
// values; the span points into a pinned staging buffer and is only valid
// during the call). Returning an error stops the stream and that error is
// returned.
using DistanceBlockCallback = std::function<Status(
    std::size_t row_begin, std::size_t row_end, std::span<const double> rows)>;
// (done_rows, N) after each block.
using ProgressCallback =
    std::function<void(std::uint64_t done, std::uint64_t total)>;

// Computes the N x N matrix of kernels::Distance2D over row-major points
// (x0, y0, x1, y1, ...) block by block (block_rows rows each; 0 picks about
// StreamPoolOptions::pinned_bytes_per_half per block) and hands each block to
// on_block while the next one is computed on the GPU. OK when every row was
// delivered; Error kCancelled when control.cancel was seen (on_block has seen
// a prefix of the rows). Errors: kInvalidArgument (dims != 2: field "dims";
// no points, odd length or a non-finite coordinate: field "points"),
// kFailedPrecondition (invalid lease / no GPU), kInternal (CUDA error).
Status StreamDistanceMatrix(StreamLease& lease, std::span<const double> points,
                            std::size_t dims, std::size_t block_rows,
                            const RunControl& control,
                            const DistanceBlockCallback& on_block,
                            const ProgressCallback& progress = {});
// The same on a stream of StreamPool::Default().
Status StreamDistanceMatrix(std::span<const double> points, std::size_t dims,
                            std::size_t block_rows, const RunControl& control,
                            const DistanceBlockCallback& on_block,
                            const ProgressCallback& progress = {});

}  // namespace impulse::gpu
