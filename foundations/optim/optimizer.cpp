// Optimizer::create(): the registered optimizer by name, after checking its hyper-parameters.
#include "foundations/base/error.h"
#include "foundations/optim/optimizer.h"
#include "foundations/optim/optimizer_registry.h"

namespace chorus {

std::vector<std::string> Optimizer::names() { return optimizer_registry().names(); }

float Optimizer::default_lr(const std::string& name) { return optimizer_registry().get(name).default_lr; }

void Optimizer::check(const OptimizerConfig& config) {
  optimizer_registry().get(config.name);  // UserError naming the registered ones
  optim::check_optimizer_config(config);
}

std::unique_ptr<Optimizer> Optimizer::create(const OptimizerConfig& config, Backend& backend,
                                             float* params, float* grads, std::size_t n) {
  CHORUS_CHECK(n == 0 || (params != nullptr && grads != nullptr),
               "optimizer needs parameter and gradient buffers");
  CHORUS_CHECK(params != grads || n == 0, "parameter and gradient buffers must differ");
  check(config);
  return optimizer_registry().get(config.name).make(config, backend, params, grads, n);
}

}  // namespace chorus
