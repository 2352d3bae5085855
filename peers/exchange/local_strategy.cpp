// `local`: no exchange at all — each peer trains alone on its shard. The baseline that
// exercises the peer runtime (membership, checkpoints, logs) without any averaging.
#include "peers/exchange/strategy_kinds.h"

namespace chorus {
namespace {

class LocalStrategy final : public Strategy {
 public:
  std::string name() const override { return "local"; }
  void after_update(std::int64_t) override {}
};

}  // namespace

std::unique_ptr<Strategy> make_local_strategy(PeerServices&) {
  return std::make_unique<LocalStrategy>();
}

}  // namespace chorus
