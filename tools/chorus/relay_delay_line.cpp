#include "tools/chorus/relay_delay_line.h"

#include <algorithm>
#include <cmath>

namespace chorus::tools {

DelayLine::DelayLine(const LinkImpairment& link, std::uint64_t seed) : link_(link), rng_(seed) {}

double DelayLine::release_time(double now, std::size_t bytes) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  double hold = link_.delay_s;
  if (link_.jitter_s > 0) hold += (2.0 * unit(rng_) - 1.0) * link_.jitter_s;
  hold = std::max(0.0, hold);
  if (link_.loss > 0 && bytes > 0) {
    const double segments =
        std::ceil(static_cast<double>(bytes) / static_cast<double>(std::max<std::size_t>(1, link_.segment_bytes)));
    const double p_any = 1.0 - std::pow(1.0 - std::min(link_.loss, 1.0), segments);
    if (unit(rng_) < p_any) {
      hold += link_.rto_s;
      ++stalls_;
    }
  }
  last_release_ = std::max(last_release_, now + hold);
  return last_release_;
}

}  // namespace chorus::tools
