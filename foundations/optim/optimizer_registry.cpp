#include "foundations/optim/optimizer_registry.h"

namespace chorus {

Registry<OptimizerRecord>& optimizer_registry() {
  static Registry<OptimizerRecord> registry("optimizer");
  return registry;
}

}  // namespace chorus
