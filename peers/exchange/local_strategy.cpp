// `local`: no exchange at all — each peer trains alone on its shard. The baseline that
// exercises the peer runtime (membership, checkpoints, logs) without any averaging.
#include "peers/exchange/strategy_registry.h"

namespace chorus {
namespace {

struct LocalOptions {
  void declare(OptionSet&) {}
  void check() const {}
};

class LocalStrategy final : public Strategy {
 public:
  LocalStrategy(PeerServices&, const LocalOptions&) {}
  void after_update(std::int64_t) override {}
};

const bool registered = register_strategy<LocalStrategy, LocalOptions>(
    {"local", "none", "no exchange: each peer trains alone (the baseline)", 0, /*exchanges=*/false});

}  // namespace
}  // namespace chorus
