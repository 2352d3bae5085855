#include "peers/ring/parameter_averaging.h"

#include <vector>

namespace chorus {

ParameterAveraging::ParameterAveraging(PeerServices& services, const MergeOptions& merge, const std::string& groups)
    : MergingStrategy(services.params, merge.overlap, services.stats, Busy::wait),
      session_(services, {groups, merge.dynamic_weights,
                          merge.overlap >= 0 ? RingSession::Timing::counted_by_caller
                                             : RingSession::Timing::counted_here}) {}

bool ParameterAveraging::exchange(std::int64_t step, std::span<float> x) {
  // Synchronous: the collectives run here and the session counts their time itself.
  if (merge().synchronous()) return average(x, step);
  return merge().begin(x, step, [this, step](std::vector<float>& s) { return average(s, step); });
}

}  // namespace chorus
