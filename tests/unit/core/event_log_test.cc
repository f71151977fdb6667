#include "server/core/event_log.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <thread>

namespace impulse::core {
namespace {

v1::JobEvent Progress(double fraction) {
  v1::JobEvent event;
  event.set_type(v1::PROGRESS);
  event.set_fraction(fraction);
  return event;
}

v1::JobEvent State(v1::JobState state) {
  v1::JobEvent event;
  event.set_type(v1::STATE_CHANGED);
  event.set_state(state);
  return event;
}

// Spawns a coroutine on `io` that awaits `wait()` and then sets the returned
// flag, so a test can tell whether the wait has completed.
template <typename Wait>
std::shared_ptr<bool> SpawnWaiter(boost::asio::io_context& io, Wait wait) {
  auto resumed = std::make_shared<bool>(false);
  boost::asio::co_spawn(
      io,
      [wait, resumed]() -> boost::asio::awaitable<void> {
        co_await wait();
        *resumed = true;
      },
      boost::asio::detached);
  return resumed;
}

TEST(EventLogTest, SequenceNumbersStrictlyIncreaseFromTheFirst) {
  EventLog log(EventLog::Options{}, /*first_seq=*/5);
  EXPECT_EQ(log.Append(State(v1::QUEUED)), 5u);
  EXPECT_EQ(log.Append(State(v1::RUNNING)), 6u);
  EXPECT_EQ(log.last_seq(), 6u);
  std::vector<v1::JobEvent> events = log.ReadAfter(0, 100);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].seq(), 5u);
  EXPECT_TRUE(events[0].has_time());
  EXPECT_EQ(log.ReadAfter(5, 100).size(), 1u);
  EXPECT_TRUE(log.ReadAfter(6, 100).empty());
}

TEST(EventLogTest, FastProgressCoalescesIntoTheNewestEvent) {
  EventLog log(EventLog::Options{.max_events = 100,
                                 .coalesce_window = std::chrono::hours(1)});
  log.Append(State(v1::RUNNING));
  for (int i = 1; i <= 1000; ++i) log.Append(Progress(i / 1000.0));
  std::vector<v1::JobEvent> events = log.ReadAfter(0, 100);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_DOUBLE_EQ(events[1].fraction(), 1.0);
  EXPECT_EQ(events[1].seq(), 1001u);  // every append still took a number
}

TEST(EventLogTest, BoundedLogDropsOldProgressButKeepsStateChanges) {
  EventLog log(EventLog::Options{
      .max_events = 8, .coalesce_window = std::chrono::milliseconds(0)});
  log.Append(State(v1::QUEUED));
  log.Append(State(v1::RUNNING));
  for (int i = 0; i < 100; ++i) log.Append(Progress(i / 100.0));
  log.Append(State(v1::SUCCEEDED));
  std::vector<v1::JobEvent> events = log.ReadAfter(0, 1000);
  EXPECT_LE(events.size(), 9u);
  EXPECT_EQ(events.front().state(), v1::QUEUED);
  EXPECT_EQ(events[1].state(), v1::RUNNING);
  EXPECT_EQ(events.back().state(), v1::SUCCEEDED);
  EXPECT_TRUE(log.closed());
}

TEST(EventLogTest, NothingIsAppendedAfterTheTerminalEvent) {
  EventLog log;
  log.Append(State(v1::CANCELLED));
  const std::uint64_t last = log.last_seq();
  log.Append(Progress(0.5));
  log.Append(State(v1::SUCCEEDED));
  EXPECT_EQ(log.last_seq(), last);
  EXPECT_EQ(log.ReadAfter(0, 10).size(), 1u);
}

TEST(EventLogTest, StoredEventsKeepTheirSequenceNumbersAndNeverGoBack) {
  EventLog log;
  v1::JobEvent queued = State(v1::QUEUED);
  queued.set_seq(1);
  log.AppendStored(queued);
  // Another replica's run numbers its events from claims << 32.
  v1::JobEvent progress = Progress(0.5);
  progress.set_seq((std::uint64_t{2} << 32) + 1);
  log.AppendStored(progress);
  log.AppendStored(progress);  // a repeat is ignored
  log.AppendStored(queued);    // so is an older one
  EXPECT_EQ(log.last_seq(), (std::uint64_t{2} << 32) + 1);
  ASSERT_EQ(log.ReadAfter(0, 100).size(), 2u);
  EXPECT_EQ(log.ReadAfter(1, 100).front().fraction(), 0.5);
  v1::JobEvent done = State(v1::SUCCEEDED);
  done.set_seq((std::uint64_t{2} << 32) + 2);
  log.AppendStored(done);
  EXPECT_TRUE(log.closed());
  // A local append after it (e.g. a shutdown notice) would go nowhere.
  EXPECT_EQ(log.Append(Progress(0.9)), done.seq());
}

TEST(EventLogTest, AWaiterResumesOnItsExecutorWhenAnotherThreadAppends) {
  EventLog log;
  boost::asio::io_context io;
  std::thread::id resumed_on;
  bool resumed = false;
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        co_await log.AsyncWaitAfter(0, nullptr, boost::asio::use_awaitable);
        resumed = true;
        resumed_on = std::this_thread::get_id();
      },
      boost::asio::detached);
  io.poll();  // parks the coroutine
  EXPECT_FALSE(resumed);
  std::thread producer([&] { log.Append(State(v1::RUNNING)); });
  producer.join();
  io.run();
  EXPECT_TRUE(resumed);
  EXPECT_EQ(resumed_on, std::this_thread::get_id());
}

TEST(EventLogTest, AnAbandonedWaiterIsWokenByWakeAll) {
  EventLog log;
  boost::asio::io_context io;
  std::atomic<bool> abandoned{false};
  std::shared_ptr<bool> resumed = SpawnWaiter(io, [&] {
    return log.AsyncWaitAfter(0, &abandoned, boost::asio::use_awaitable);
  });
  io.poll();
  EXPECT_FALSE(*resumed);
  abandoned = true;
  log.WakeAll();
  io.run();
  EXPECT_TRUE(*resumed);
}

TEST(EventLogTest, AnEndWaiterSleepsThroughEventsUntilTheTerminalOne) {
  EventLog log;
  boost::asio::io_context io;
  std::shared_ptr<bool> resumed = SpawnWaiter(io, [&] {
    return log.AsyncWaitClosed(nullptr, boost::asio::use_awaitable);
  });
  io.poll();  // parks the coroutine
  log.Append(State(v1::RUNNING));
  io.poll();
  EXPECT_FALSE(*resumed);  // not woken by an event that does not end the job
  std::thread producer([&] { log.Append(State(v1::SUCCEEDED)); });
  producer.join();
  io.run();
  EXPECT_TRUE(*resumed);
  EXPECT_TRUE(log.closed());
}

TEST(EventLogTest, AnEndWaiterOnAClosedLogCompletesAtOnce) {
  EventLog log;
  log.Append(State(v1::FAILED));
  boost::asio::io_context io;
  std::shared_ptr<bool> resumed = SpawnWaiter(io, [&] {
    return log.AsyncWaitClosed(nullptr, boost::asio::use_awaitable);
  });
  io.run();
  EXPECT_TRUE(*resumed);
}

TEST(EventLogTest, AnAbandonedEndWaiterIsWokenByWakeAll) {
  EventLog log;
  boost::asio::io_context io;
  std::atomic<bool> abandoned{false};
  std::shared_ptr<bool> resumed = SpawnWaiter(io, [&] {
    return log.AsyncWaitClosed(&abandoned, boost::asio::use_awaitable);
  });
  io.poll();
  EXPECT_FALSE(*resumed);
  abandoned = true;
  log.WakeAll();
  io.run();
  EXPECT_TRUE(*resumed);
  EXPECT_FALSE(log.closed());
}

TEST(EventLogTest, AnEndWaiterAlreadyAbandonedDoesNotPark) {
  EventLog log;
  boost::asio::io_context io;
  const std::atomic<bool> abandoned{true};
  std::shared_ptr<bool> resumed = SpawnWaiter(io, [&] {
    return log.AsyncWaitClosed(&abandoned, boost::asio::use_awaitable);
  });
  io.run();
  EXPECT_TRUE(*resumed);
}

}  // namespace
}  // namespace impulse::core
