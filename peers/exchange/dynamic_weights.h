#pragma once
// Dynamic weighting (--dynamic-weights): in any averaging, each contribution is weighted by
// how current its sender is, and the weights are renormalized, so a straggler or a peer that
// returns with stale parameters (restarted from an old checkpoint) cannot drag the others
// back: its pull on anybody is at most its (small) normalized weight.
//
// Currency of one contribution, a factor in (0, 1], the product of two factors:
//   staleness      2^-(behind / step_half_life + max(0, age - silence_grace_s) /
//                  silence_half_life_s), at least `floor`; behind = the newest step among the
//                  contributions (or a reference the caller knows) minus the sender's step, age =
//                  seconds since the value was received (or its sender last heard from);
//   recovery       floor + (1 - floor) * min(1, since_start / recovery_steps), since_start = the
//                  sender's local steps since its process (re)started — a peer that has trained
//                  only a few steps since a restart has not yet shown its parameters are
//                  current. (At the very start of a run every peer is equally "new", so the
//                  renormalized weights are unchanged.)
// So a stale peer that has also just restarted weighs floor² next to a current one.
// dynamic_weights() multiplies each base weight (e.g. a Metropolis mixing weight, or 1) by its
// currency and renormalizes the result to sum to 1.
//
// Pure functions: no state, no blocking, safe from any thread. Bad configuration (negative
// scales, a floor outside (0, 1]) is an invariant violation; the strategies use defaults.
#include <cstdint>
#include <span>
#include <vector>

namespace chorus {

struct DynamicWeightConfig {
  double step_half_life = 50;      // steps behind that halve a weight
  double silence_grace_s = 2.0;    // age of a value that costs nothing
  double silence_half_life_s = 5;  // further seconds of age that halve a weight
  double recovery_steps = 50;      // local steps after a (re)start to reach full weight
  double floor = 0.02;             // the smallest value of each factor
};

// What an averaging knows about one contribution.
struct Contribution {
  std::int64_t step = 0;         // the sender's training step when it produced the value
  std::int64_t since_start = 0;  // the sender's local steps since its process (re)started
  double age_s = 0;              // seconds since the value (or its sender) was last heard
};

// The currency of `c` when the newest known step is `newest_step`, in [floor², 1].
double currency(const Contribution& c, std::int64_t newest_step, const DynamicWeightConfig& config = {});

// base[k] * currency(contributions[k], newest step among them), renormalized to sum 1. Both
// spans have the same length (at least 1); base weights are >= 0 with a positive sum.
std::vector<double> dynamic_weights(std::span<const double> base, std::span<const Contribution> contributions,
                                    const DynamicWeightConfig& config = {});

// Pairwise form for symmetric exchanges: the elastic rates (for a, for b) that replace `alpha`
// when a's and b's currencies are ca and cb: a moves by alpha * 2cb/(ca+cb) (at most 1), b by
// alpha * 2ca/(ca+cb); equal currencies give alpha for both.
struct PairRates {
  double a = 0, b = 0;
};
PairRates pair_rates(double alpha, double ca, double cb);

}  // namespace chorus
