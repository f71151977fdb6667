// Work that blocks (file writes, SHA-256, checking a whole dataset) runs on a
// small thread pool of its own, never on the I/O threads; both front ends
// resume their coroutine on its own executor when the work is done.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>
#include <utility>

namespace impulse::edge {

// Shared by every server in the process.
inline boost::asio::thread_pool& BlockingPool() {
  static boost::asio::thread_pool pool(2);
  return pool;
}

// Runs f() on the blocking pool and resumes on the caller's executor, after
// f and what it holds are destroyed (e.g. the last reference to an upload's
// temp file), so the caller sees every effect of f. (Name the returned
// awaitable before co_await-ing it: GCC 12 destroys non-trivial temporaries
// of a co_await expression twice.)
template <typename T, typename F>
boost::asio::awaitable<T> OnBlockingPool(F f) {
  auto run = [f = std::optional<F>(
                  std::move(f))]() mutable -> boost::asio::awaitable<T> {
    T result = (*f)();
    f.reset();  // not later, with co_spawn's frame, on the pool's thread
    co_return result;
  };
  auto spawned =
      boost::asio::co_spawn(BlockingPool().get_executor(), std::move(run),
                            boost::asio::use_awaitable);
  co_return co_await std::move(spawned);
}

}  // namespace impulse::edge
