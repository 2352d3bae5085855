#include "peers/exchange/dynamic_weights.h"

#include <algorithm>
#include <cmath>

#include "foundations/base/error.h"

namespace chorus {

double currency(const Contribution& c, std::int64_t newest_step, const DynamicWeightConfig& config) {
  CHORUS_CHECK(config.floor > 0 && config.floor <= 1, "dynamic weights: floor outside (0, 1]");
  CHORUS_CHECK(config.step_half_life > 0 && config.silence_half_life_s > 0 && config.recovery_steps >= 0 &&
                   config.silence_grace_s >= 0,
               "dynamic weights: negative or zero scale");
  const double behind = static_cast<double>(std::max<std::int64_t>(0, newest_step - c.step));
  const double silence = std::max(0.0, c.age_s - config.silence_grace_s);
  double staleness = std::exp2(-behind / config.step_half_life - silence / config.silence_half_life_s);
  if (!std::isfinite(staleness)) staleness = 0;
  staleness = std::clamp(staleness, config.floor, 1.0);
  double ramp = 1.0;
  if (config.recovery_steps > 0)
    ramp = config.floor + (1.0 - config.floor) *
                              std::min(1.0, static_cast<double>(std::max<std::int64_t>(0, c.since_start)) /
                                                config.recovery_steps);
  return staleness * ramp;
}

std::vector<double> dynamic_weights(std::span<const double> base, std::span<const Contribution> contributions,
                                    const DynamicWeightConfig& config) {
  CHORUS_CHECK(base.size() == contributions.size() && !base.empty(), "dynamic weights: mismatched lengths");
  std::int64_t newest = contributions.front().step;
  for (const auto& c : contributions) newest = std::max(newest, c.step);
  std::vector<double> w(base.size());
  double sum = 0;
  for (std::size_t k = 0; k < base.size(); ++k) {
    CHORUS_CHECK(base[k] >= 0, "dynamic weights: negative base weight");
    w[k] = base[k] * currency(contributions[k], newest, config);
    sum += w[k];
  }
  CHORUS_CHECK(sum > 0, "dynamic weights: base weights sum to zero");
  for (auto& x : w) x /= sum;
  return w;
}

PairRates pair_rates(double alpha, double ca, double cb) {
  CHORUS_CHECK(ca > 0 && cb > 0, "dynamic weights: non-positive currency");
  const double s = ca + cb;
  return {std::min(1.0, alpha * 2 * cb / s), std::min(1.0, alpha * 2 * ca / s)};
}

}  // namespace chorus
