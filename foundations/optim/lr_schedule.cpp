// LrSchedule::at(): warm-up lr = base_lr * (step + 1) / warmup_steps for step < warmup_steps
// (so the last warm-up step reaches base_lr), then with s = step - warmup_steps:
//   constant  base_lr
//   cosine    min_lr + (base_lr - min_lr) (1 + cos(pi * min(s / (total_steps - warmup_steps), 1))) / 2
//             (base_lr right after warm-up, min_lr at total_steps and after)
//   step      base_lr * gamma^floor(s / step_every)
// Computed in double, returned as float. Steps before 0 count as step 0.
#include "foundations/optim/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <numbers>

#include "foundations/base/error.h"

namespace chorus {

float LrSchedule::at(std::int64_t step) const {
  if (step < 0) step = 0;
  const double base = base_lr;
  if (step < warmup_steps)
    return static_cast<float>(base * static_cast<double>(step + 1) /
                              static_cast<double>(warmup_steps));
  const std::int64_t since_warmup = step - (warmup_steps > 0 ? warmup_steps : 0);
  switch (decay) {
    case Decay::constant:
      return base_lr;
    case Decay::cosine: {
      const std::int64_t span = total_steps - (warmup_steps > 0 ? warmup_steps : 0);
      if (span <= 0) return min_lr;
      const double progress =
          std::min(1.0, static_cast<double>(since_warmup) / static_cast<double>(span));
      const double low = min_lr;
      return static_cast<float>(low + (base - low) * 0.5 *
                                          (1.0 + std::cos(std::numbers::pi * progress)));
    }
    case Decay::step: {
      if (step_every <= 0) return base_lr;
      const std::int64_t drops = since_warmup / step_every;
      return static_cast<float>(base * std::pow(static_cast<double>(gamma),
                                                static_cast<double>(drops)));
    }
  }
  return base_lr;
}

LrSchedule::Decay LrSchedule::parse_decay(const std::string& name) {
  if (name == "constant") return Decay::constant;
  if (name == "cosine") return Decay::cosine;
  if (name == "step") return Decay::step;
  throw UserError("unknown learning-rate decay '" + name + "' (choose constant, cosine or step)");
}

void LrSchedule::validate() const {
  if (!std::isfinite(base_lr) || base_lr <= 0.0f)
    throw UserError(fmt::format("learning rate must be positive, got {}", base_lr));
  if (!std::isfinite(min_lr) || min_lr < 0.0f || min_lr > base_lr)
    throw UserError(fmt::format("minimum learning rate must be in [0, {}], got {}", base_lr,
                                min_lr));
  if (warmup_steps < 0)
    throw UserError(fmt::format("warm-up steps must be >= 0, got {}", warmup_steps));
  if (decay == Decay::cosine && total_steps < 1)
    throw UserError(fmt::format("total steps of the cosine decay must be >= 1, got {}",
                                total_steps));
  if (decay == Decay::step && step_every < 1)
    throw UserError(fmt::format("steps between learning-rate drops must be >= 1, got {}",
                                step_every));
  if (decay == Decay::step && (!std::isfinite(gamma) || gamma <= 0.0f || gamma > 1.0f))
    throw UserError(fmt::format("learning-rate drop factor gamma must be in (0, 1], got {}",
                                gamma));
}

}  // namespace chorus
