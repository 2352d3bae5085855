#pragma once
// LrSchedule: the learning rate as a pure function of the global step.
// Linear warm-up from 0 over warmup_steps, then constant, cosine decay to min_lr at
// total_steps, or step decay (multiply by gamma every step_every steps after warm-up).
#include <cstdint>
#include <string>

namespace chorus {

struct LrSchedule {
  enum class Decay { constant, cosine, step };
  float base_lr = 0.1f;
  float min_lr = 0.0f;
  std::int64_t warmup_steps = 0;
  std::int64_t total_steps = 1;
  Decay decay = Decay::cosine;
  std::int64_t step_every = 1000;
  float gamma = 0.1f;

  float at(std::int64_t step) const;
  static Decay parse_decay(const std::string& name);  // throws UserError
  // Throws UserError for a schedule that makes no sense (negative rates or step counts,
  // min_lr above base_lr, step_every < 1, gamma outside (0, 1]). at() never fails: on an
  // unchecked schedule it still returns a finite value for finite rates.
  void validate() const;
};

}  // namespace chorus
