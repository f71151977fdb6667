// JobManager::SubmitAsync as an Asio operation, for the gRPC and REST front
// ends: the calling coroutine is suspended, not its io thread, while the
// journal commits the job, and resumes on its own executor (the answer may
// come from the journal's thread).
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <memory>
#include <string>
#include <utility>

#include "impulse/v1/jobs.pb.h"
#include "server/core/job_manager.h"

namespace impulse::core {

using SubmitAnswer = Result<std::shared_ptr<JobRecord>>;

// `spec` and `tenant` are read before this returns (or, with a deferred
// token such as use_awaitable, before the awaiting coroutine suspends).
template <typename CompletionToken>
auto AsyncSubmit(JobManager& manager, const v1::JobSpec& spec,
                 const std::string& tenant, CompletionToken&& token) {
  return boost::asio::async_initiate<CompletionToken, void(SubmitAnswer)>(
      [&manager, &spec, &tenant](auto handler) {
        // Tracked: the io threads do not run out of work (and return from
        // run()) while the answer is still to come.
        auto executor = boost::asio::prefer(
            boost::asio::get_associated_executor(handler),
            boost::asio::execution::outstanding_work.tracked);
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        manager.SubmitAsync(
            spec, tenant, [shared, executor](SubmitAnswer answer) {
              boost::asio::post(executor,
                                [shared, answer = std::move(answer)]() mutable {
                                  (*shared)(std::move(answer));
                                });
            });
      },
      token);
}

}  // namespace impulse::core
