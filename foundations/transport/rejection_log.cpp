#include "foundations/transport/rejection_log.h"

#include <fmt/format.h>

#include <cstdio>

namespace chorus {

RejectionLog::RejectionLog(Sink sink, std::string self) : sink_(std::move(sink)), self_(std::move(self)) {
  if (!sink_) sink_ = [](const std::string& line) { std::fprintf(stderr, "chorus: %s\n", line.c_str()); };
}

void RejectionLog::reject(RejectReason reason, const std::string& sender, const std::string& who,
                          const std::string& detail) {
  counts_[static_cast<std::size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  std::string key = sender;
  key.push_back('\0');
  key += reject_reason_name(reason);
  std::string line;
  {
    std::lock_guard lock(mutex_);
    if (logged_.count(key)) return;
    if (logged_.size() >= kMaxLogged) {
      if (saturated_) return;
      saturated_ = true;
      line = fmt::format("{}: rejected frames from more than {} senders; further rejections are counted, "
                         "not logged", self_, kMaxLogged);
    } else {
      logged_.insert(std::move(key));
      line = fmt::format("{}: rejected a frame from {}: {}: {} (further {} rejections from this sender are "
                         "counted, not logged)", self_, who, reject_reason_name(reason), detail,
                         reject_reason_name(reason));
    }
  }
  sink_(line);
}

RejectionCounts RejectionLog::counts() const {
  RejectionCounts c;
  for (std::size_t i = 0; i < kRejectReasonCount; ++i) c.by_reason[i] = counts_[i].load(std::memory_order_relaxed);
  return c;
}

}  // namespace chorus
