// Optimizer::create(): picks the optimizer by name after checking its hyper-parameters.
#include "foundations/base/error.h"
#include "foundations/optim/optimizer.h"
#include "foundations/optim/optimizer_kinds.h"

namespace chorus {

std::vector<std::string> Optimizer::names() { return {"sgd", "adam", "adahessian"}; }

std::unique_ptr<Optimizer> Optimizer::create(const OptimizerConfig& config, Backend& backend,
                                             float* params, float* grads, std::size_t n) {
  CHORUS_CHECK(n == 0 || (params != nullptr && grads != nullptr),
               "optimizer needs parameter and gradient buffers");
  CHORUS_CHECK(params != grads || n == 0, "parameter and gradient buffers must differ");
  if (config.name == "sgd") {
    optim::check_optimizer_config(config);
    return optim::make_sgd(config, backend, params, grads, n);
  }
  if (config.name == "adam") {
    optim::check_optimizer_config(config);
    return optim::make_adam(config, backend, params, grads, n);
  }
  if (config.name == "adahessian") {
    optim::check_optimizer_config(config);
    return optim::make_adahessian(config, backend, params, grads, n);
  }
  throw UserError("unknown optimizer '" + config.name + "' (choose sgd, adam or adahessian)");
}

}  // namespace chorus
