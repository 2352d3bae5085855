// SGD with momentum, PyTorch semantics (dampening 0):
//   g = grad + weight_decay * p;  buf = momentum * buf + g;
//   p -= lr * (nesterov ? g + momentum * buf : buf)      (p -= lr * g when momentum == 0)
// State layout: [velocity (n floats)]. The velocity starts at zero, so the first step's
// buffer is the gradient itself, as in PyTorch.
#include <cmath>

#include "foundations/base/error.h"
#include "foundations/optim/optimizer_registry.h"

namespace chorus::optim {

namespace {

class SgdOptimizer final : public Optimizer {
 public:
  SgdOptimizer(const OptimizerConfig& config, Backend& backend, float* params, float* grads,
               std::size_t n)
      : Optimizer(backend, params, grads, n, n),
        momentum_(config.momentum),
        weight_decay_(config.weight_decay),
        nesterov_(config.nesterov) {}

  std::string name() const override { return "sgd"; }

  void step(float lr, const RecomputeGradients& /*recompute: unused*/) override {
    CHORUS_CHECK(std::isfinite(lr) && lr >= 0.0f, "learning rate must be finite and >= 0");
    SgdHyper h;
    h.lr = lr;
    h.momentum = momentum_;
    h.weight_decay = weight_decay_;
    h.nesterov = nesterov_;
    backend_.sgd_step(params_, grads_, state_.data(), n_, h);
    ++steps_;
  }

 private:
  float momentum_;
  float weight_decay_;
  bool nesterov_;
};

const bool registered = optimizer_registry().add(
    {"sgd", "SGD with momentum, optionally Nesterov, and weight decay", 10, 0.05f,
     [](const OptimizerConfig& config, Backend& backend, float* params, float* grads, std::size_t n)
        -> std::unique_ptr<Optimizer> {
       return std::make_unique<SgdOptimizer>(config, backend, params, grads, n);
     }});

}  // namespace
}  // namespace chorus::optim
