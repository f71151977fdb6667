// Wall-clock timestamps for jobs and events, at nanosecond resolution
// (protobuf 3.21's TimeUtil::GetCurrentTime() only has whole seconds).
#pragma once

#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/time_util.h>

#include <chrono>

namespace impulse::core {

inline google::protobuf::Timestamp NowTimestamp() {
  const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch)
          .count());
}

}  // namespace impulse::core
