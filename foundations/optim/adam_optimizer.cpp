// Adam, with decoupled (AdamW) weight decay when weight_decay > 0:
//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  t = steps() + 1
//   p = p (1 - lr wd) - lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
// State layout: [m (n floats) | v (n floats)].
#include <cmath>

#include "foundations/base/error.h"
#include "foundations/optim/optimizer_registry.h"

namespace chorus::optim {

namespace {

class AdamOptimizer final : public Optimizer {
 public:
  AdamOptimizer(const OptimizerConfig& config, Backend& backend, float* params, float* grads,
                std::size_t n)
      : Optimizer(backend, params, grads, n, 2 * n), config_(config) {}

  std::string name() const override { return "adam"; }

  void step(float lr, const RecomputeGradients& /*recompute: unused*/) override {
    CHORUS_CHECK(std::isfinite(lr) && lr >= 0.0f, "learning rate must be finite and >= 0");
    const AdamHyper h = adam_hyper(config_, lr, steps_ + 1);
    float* m = state_.data();
    float* v = m + n_;
    backend_.adam_step(params_, grads_, /*hessian=*/nullptr, m, v, n_, h);
    ++steps_;
  }

 private:
  OptimizerConfig config_;
};

const bool registered = optimizer_registry().add(
    {"adam", "Adam with decoupled weight decay, as AdamW", 20, 1e-3f,
     [](const OptimizerConfig& config, Backend& backend, float* params, float* grads, std::size_t n)
        -> std::unique_ptr<Optimizer> {
       return std::make_unique<AdamOptimizer>(config, backend, params, grads, n);
     }});

}  // namespace

AdamHyper adam_hyper(const OptimizerConfig& config, float lr, std::int64_t step) {
  AdamHyper h;
  h.lr = lr;
  h.beta1 = config.beta1;
  h.beta2 = config.beta2;
  h.eps = config.eps;
  h.weight_decay = config.weight_decay;
  h.step = step;
  return h;
}

}  // namespace chorus::optim
