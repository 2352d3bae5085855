#include "peers/exchange/merging_strategy.h"

namespace chorus {

MergingStrategy::MergingStrategy(HostParams& params, int staleness, CommStats& stats, Busy busy)
    : params_(params), busy_(busy), merge_(std::make_unique<OverlappedMerge>(staleness, stats)) {}

void MergingStrategy::after_update(std::int64_t step) {
  every_step(step);
  if (!merge_->in_flight() && !has_queued() && !due(step)) {
    between_points();
    after_step();
    return;
  }
  const std::span<float> params = params_.pull();
  bool changed = merge_->poll(params, step);
  changed |= apply_queued(params);
  if (merge_->in_flight() && due(step))
    changed |= busy_ == Busy::wait ? merge_->finish(params) : skip(step, params);
  if (!merge_->in_flight() && due(step)) changed |= exchange(step, params);
  if (changed) params_.push();
  after_step();
}

void MergingStrategy::finish() {
  if (finished_) return;
  finished_ = true;
  const std::span<float> params = params_.pull();
  bool changed = merge_->finish(params);
  changed |= apply_queued(params);
  changed |= leaving(params);
  if (changed) params_.push();
  finished();
}

}  // namespace chorus
