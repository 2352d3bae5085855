// Optimizer::create(): picks the optimizer by name after checking its hyper-parameters.
#include <algorithm>

#include "foundations/base/error.h"
#include "foundations/optim/optimizer.h"
#include "foundations/optim/optimizer_kinds.h"

namespace chorus {

std::vector<std::string> Optimizer::names() { return {"sgd", "adam", "adahessian"}; }

void Optimizer::check(const OptimizerConfig& config) {
  const std::vector<std::string> known = names();
  if (std::find(known.begin(), known.end(), config.name) == known.end())
    throw UserError("unknown optimizer '" + config.name + "' (choose sgd, adam or adahessian)");
  optim::check_optimizer_config(config);
}

std::unique_ptr<Optimizer> Optimizer::create(const OptimizerConfig& config, Backend& backend,
                                             float* params, float* grads, std::size_t n) {
  CHORUS_CHECK(n == 0 || (params != nullptr && grads != nullptr),
               "optimizer needs parameter and gradient buffers");
  CHORUS_CHECK(params != grads || n == 0, "parameter and gradient buffers must differ");
  check(config);
  if (config.name == "sgd") return optim::make_sgd(config, backend, params, grads, n);
  if (config.name == "adam") return optim::make_adam(config, backend, params, grads, n);
  return optim::make_adahessian(config, backend, params, grads, n);
}

}  // namespace chorus
