// What the two gRPC drivers (grpc_driver.cc, burst.cc) share: CompletionQueue
// tags that call a member function, and the names of statuses and states.
#pragma once

#include <grpcpp/grpcpp.h>

#include <string>
#include <string_view>

#include "impulse/v1/jobs.pb.h"
#include "proto/grpc_status_name.h"

namespace impulse::load {

// A CompletionQueue tag: what to call when the step completes.
class Tag {
 public:
  virtual void Done(bool ok) = 0;

 protected:
  ~Tag() = default;
};

template <typename T, void (T::*Fn)(bool)>
class MemberTag final : public Tag {
 public:
  explicit MemberTag(T* self) : self_(self) {}
  void Done(bool ok) override { (self_->*Fn)(ok); }

 private:
  T* self_;
};

inline bool IsTerminal(v1::JobState state) {
  return state == v1::SUCCEEDED || state == v1::FAILED ||
         state == v1::CANCELLED;
}

// "UNAVAILABLE", or "CODE_17" for a code without a name.
inline std::string CodeName(const grpc::Status& status) {
  const std::string_view name = GrpcStatusCodeName(status.error_code());
  return name.empty() ? "CODE_" + std::to_string(status.error_code())
                      : std::string(name);
}

}  // namespace impulse::load
