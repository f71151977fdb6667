// HandlerOperation and StepStorage: a step completed from another thread (as
// the poller does) resumes its handler on the io_context; a step in a
// StepStorage allocates nothing; a step whose completion never runs still
// destroys its handler.
#include "server/grpc/grpc_operation.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstdlib>
#include <memory>
#include <new>
#include <thread>

#if defined(__SANITIZE_ADDRESS__) || defined(IMPULSE_TSAN)
#define IMPULSE_COUNTS_ALLOCATIONS 0  // the sanitizers own the allocator
#else
#define IMPULSE_COUNTS_ALLOCATIONS 1
#endif

namespace {

// Every operator new and aligned allocation (Asio's recycling allocator uses
// aligned_alloc) in this test binary is counted.
std::atomic<long> g_allocations{0};

}  // namespace

#if IMPULSE_COUNTS_ALLOCATIONS
extern "C" void* __libc_memalign(std::size_t alignment, std::size_t size);

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

extern "C" void* aligned_alloc(std::size_t alignment, std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_memalign(alignment, size);
}
extern "C" int posix_memalign(void** out, std::size_t alignment,
                              std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  *out = __libc_memalign(alignment, size);
  return *out == nullptr ? ENOMEM : 0;
}
#endif

namespace impulse::grpc_bridge {
namespace {

namespace asio = boost::asio;

// Starts one step whose "gRPC call" only keeps the tag; returns it.
template <typename Handler>
Operation* StartStep(Handler handler, StepStorage* storage) {
  void* tag = nullptr;
  AsyncGrpc([&tag](void* t) { tag = t; }, std::move(handler), storage);
  return static_cast<Operation*>(tag);
}

// Completes `op` from a thread of its own, as the poller does.
void CompleteOnAnotherThread(Operation* op, bool ok) {
  std::thread poller([op, ok] { op->Complete(ok); });
  poller.join();
}

class GrpcOperationTest : public ::testing::TestWithParam<bool> {
 protected:
  StepStorage* storage() { return GetParam() ? &storage_ : nullptr; }
  StepStorage storage_;
};

TEST_P(GrpcOperationTest, CompletionFromAnotherThreadRunsOnTheIoContext) {
  asio::io_context io;
  std::atomic<int> runs{0};
  bool seen_ok = false;
  std::thread::id ran_on;
  for (int step = 0; step < 3; ++step) {  // the storage is reused
    Operation* op =
        StartStep(asio::bind_executor(io,
                                      [&](bool ok) {
                                        seen_ok = ok;
                                        ran_on = std::this_thread::get_id();
                                        ++runs;
                                      }),
                  storage());
    ASSERT_NE(op, nullptr);
    CompleteOnAnotherThread(op, step != 1);
    EXPECT_EQ(runs.load(), step) << "ran before the io_context did";
    io.restart();
    io.run();
    EXPECT_EQ(runs.load(), step + 1);
    EXPECT_EQ(seen_ok, step != 1);
    EXPECT_EQ(ran_on, std::this_thread::get_id());
  }
}

TEST_P(GrpcOperationTest, AStepInStorageAllocatesNothing) {
  if (!IMPULSE_COUNTS_ALLOCATIONS) {
    GTEST_SKIP() << "allocations are not counted under a sanitizer";
  }
  asio::io_context io;
  int runs = 0;
  auto handler = asio::bind_executor(io, [&runs](bool) { ++runs; });
  // The first step warms up whatever Asio keeps per thread.
  StartStep(handler, storage())->Complete(true);
  io.run();
  // The poller thread exists before counting (starting a thread allocates).
  std::atomic<Operation*> handed{nullptr};
  std::thread poller([&handed] {
    Operation* op = nullptr;
    while ((op = handed.load()) == nullptr) std::this_thread::yield();
    op->Complete(true);
  });
  const long before = g_allocations.load();
  handed.store(StartStep(handler, storage()));
  poller.join();
  io.restart();
  io.run();
  const long allocations = g_allocations.load() - before;
  EXPECT_EQ(runs, 2);
  if (GetParam()) {
    EXPECT_EQ(allocations, 0) << "a step in a StepStorage allocated";
  } else {
    EXPECT_GE(allocations, 1) << "the heap path should allocate (the "
                                 "counter would not see a regression)";
  }
}

TEST_P(GrpcOperationTest, ACompletionThatNeverRunsStillDestroysItsHandler) {
  auto token = std::make_shared<int>(0);
  {
    asio::io_context io;
    Operation* op = StartStep(
        asio::bind_executor(io, [token](bool) { FAIL() << "must not run"; }),
        storage());
    EXPECT_EQ(token.use_count(), 2);
    CompleteOnAnotherThread(op, true);
    // io is destroyed with the completion still queued.
  }
  EXPECT_EQ(token.use_count(), 1) << "the handler was not destroyed";
}

// As when a stream's call (and the storage in it) lives only as long as its
// coroutine: the handler owns the storage. Destroying the unrun completion
// frees the handler, and with it the storage.
TEST(StepStorageTest, AnUnrunCompletionMayFreeItsOwnStorage) {
  auto storage = std::make_shared<StepStorage>();
  std::weak_ptr<StepStorage> alive = storage;
  {
    asio::io_context io;
    StepStorage* room = storage.get();
    Operation* op = StartStep(
        asio::bind_executor(io, [owned = std::move(storage)](
                                    bool) { FAIL() << "must not run"; }),
        room);
    CompleteOnAnotherThread(op, true);
  }
  EXPECT_TRUE(alive.expired());
}

INSTANTIATE_TEST_SUITE_P(HeapAndStorage, GrpcOperationTest, ::testing::Bool(),
                         [](const auto& info) {
                           return info.param ? "InStepStorage" : "OnTheHeap";
                         });

// The handler of a coroutine's step (use_awaitable) fits the storage, so
// streams' writes take the allocation-free path.
TEST(StepStorageTest, AnAwaitableStepFits) {
  using Awaitable =
      asio::detail::awaitable_handler<asio::any_io_executor, bool>;
  EXPECT_TRUE(HandlerOperation<Awaitable>::kFitsStorage)
      << sizeof(HandlerOperation<Awaitable>) << " bytes";
}

}  // namespace
}  // namespace impulse::grpc_bridge
