#include "peers/ring/parameter_averaging.h"

#include <vector>

namespace chorus {

ParameterAveraging::ParameterAveraging(PeerServices& services, const MergeOptions& merge, const std::string& groups)
    : services_(services),
      session_(services, {groups, merge.dynamic_weights,
                          merge.overlap >= 0 ? RingSession::Timing::counted_by_caller
                                             : RingSession::Timing::counted_here}),
      merge_(merge.overlap, services.stats) {}

void ParameterAveraging::after_update(std::int64_t step) {
  session_.saw_step(step);
  if (merge_.synchronous()) {
    if (!boundary(session_.aligned(step))) {
      session_.serve();
      return;
    }
    if (average(services_.params.pull(), step)) services_.params.push();
    return;
  }
  // Only the merge thread moves the step offset, so with no merge in flight it holds still.
  if (!merge_.in_flight() && !boundary(session_.aligned(step))) {
    session_.serve();
    return;
  }
  const std::span<float> x = services_.params.pull();
  bool changed = merge_.poll(x, step);
  // A boundary with the previous merge still running: wait for it (its round may also move
  // the offset, and so this boundary), then start the next.
  if (merge_.in_flight() && boundary(session_.aligned(step))) changed |= merge_.finish(x);
  if (!merge_.in_flight() && boundary(session_.aligned(step)))
    changed |= merge_.begin(x, step, [this, step](std::vector<float>& s) { return average(s, step); });
  if (changed) services_.params.push();
}

void ParameterAveraging::finish() {
  if (!merge_.synchronous()) {
    const std::span<float> x = services_.params.pull();
    if (merge_.finish(x)) services_.params.push();
  }
  session_.serve(std::chrono::milliseconds(200));
}

}  // namespace chorus
