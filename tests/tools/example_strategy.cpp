// `example`: a strategy that exists only in the test build `chorus-with-example`, added as a
// new strategy is — this one file and one line in tests/tools/meson.build — to show that the
// registry is the only list of strategies: it then appears in `chorus peer --help`, in
// `chorus compare`'s default list, and runs in a swarm (test_registry.cpp).
//
// It averages the parameters of all members over the ring (the ring family's
// ParameterAveraging) at steps F, 2F, 4F, 8F, …: ever rarer, as a run that needs agreement
// early and little later might.
#include "peers/exchange/strategy_registry.h"
#include "peers/ring/parameter_averaging.h"

namespace chorus {
namespace {

struct ExampleOptions {
  int first = 4;
  MergeOptions merge;
  void declare(OptionSet& set) { set.integer("first", first, "example: first average at step N, then 2N, 4N, …", 1, 1000); }
  void check() const {}
};

class ExampleStrategy final : public ParameterAveraging {
 public:
  ExampleStrategy(PeerServices& s, const ExampleOptions& o) : ParameterAveraging(s, o.merge), first_(o.first) {}

 protected:
  bool boundary(std::int64_t aligned_step) const override {
    if (aligned_step < first_ || aligned_step % first_ != 0) return false;
    const std::int64_t multiple = aligned_step / first_;
    return (multiple & (multiple - 1)) == 0;  // a power of two
  }
  bool average(std::span<float> x, std::int64_t step) override {
    // Round = the aligned step itself (period 1): boundaries are not evenly spaced.
    return session().average(x, RingSession::Scope::global, step, 1).status == CollectiveStatus::done;
  }

 private:
  int first_;
};

const bool registered = register_strategy<ExampleStrategy, ExampleOptions>(
    {"example", "ring", "an example strategy of the test build: average at steps F, 2F, 4F, …", 1000});

}  // namespace
}  // namespace chorus
