#include "server/rest/sse_text_cache.h"

#include <iterator>

#include "server/rest/sse_stream.h"

namespace impulse::rest {

std::shared_ptr<const std::string> JobEventTexts::Text(
    const v1::JobEvent& event) {
  {
    std::lock_guard lock(mu_);
    auto it = texts_.find(event.seq());
    if (it != texts_.end()) return it->second;
  }
  // Formatted outside the lock; two streams may format the same event at
  // once, and the first to store it wins.
  auto text = std::make_shared<const std::string>(FormatSseEvent(event));
  std::lock_guard lock(mu_);
  std::shared_ptr<const std::string> stored =
      texts_.emplace(event.seq(), std::move(text)).first->second;
  while (texts_.size() > kMaxEntries) texts_.erase(texts_.begin());
  return stored;
}

std::shared_ptr<JobEventTexts> SseTextCache::For(const core::JobRecord& job) {
  std::lock_guard lock(mu_);
  std::shared_ptr<JobEventTexts> texts = jobs_[&job].lock();
  if (texts == nullptr) {
    texts = std::make_shared<JobEventTexts>();
    jobs_[&job] = texts;
    // Forget jobs no stream watches any more.
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      it = it->second.expired() ? jobs_.erase(it) : std::next(it);
    }
  }
  return texts;
}

}  // namespace impulse::rest
