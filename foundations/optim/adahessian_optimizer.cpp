// AdaHessian: Adam whose second moment tracks a diagonal Hessian estimate D instead of g^2.
//
// Every hessian_every steps (and on the first step this object takes) D is refreshed with
// Hutchinson's estimator, the Hessian-vector product taken by finite differences:
//   z = Rademacher probe (+-1 entries), seeded from (config.seed, steps())
//   D = z * (grad f(p + fd_eps z) - grad f(p)) / fd_eps          (~ z * Hz = diag(H) in mean)
// The gradient at the perturbed point comes from the caller's recompute callback. The
// parameters are restored by copying back a saved copy (p + e z - e z is not p in floats), and
// the gradient buffer gets the unperturbed gradient back, as the Optimizer contract requires.
// Between refreshes the last D is reused. The update is then adam_step() with g driving the
// first moment and D the second, with decoupled weight decay.
//
// Not done: the spatial averaging of D over convolution kernels from the AdaHessian paper,
// and its Hessian power k (here k = 1); D is used per element.
//
// State layout (one flat buffer of 6n floats, each slice n floats):
//   [0n, 1n) m      first moment                       persistent
//   [1n, 2n) v      second moment (of D)               persistent
//   [2n, 3n) D      last Hessian diagonal estimate     persistent
//   [3n, 4n) z      Rademacher probe                   scratch during a refresh
//   [4n, 5n) g      saved gradient                     scratch during a refresh
//   [5n, 6n) p      saved parameters                   scratch during a refresh
// Only the persistent slices carry meaning between steps, so the whole block can be copied
// (a checkpoint, a joining peer). A new optimizer refreshes D on its first step whatever
// its state holds, so a zero or copied-in D never divides a step by eps alone.
#include <cmath>

#include "foundations/base/error.h"
#include "foundations/base/portable_rng.h"
#include "foundations/optim/optimizer_registry.h"

namespace chorus::optim {

namespace {

constexpr std::size_t kStateSlices = 6;

// The probe seed of a given step: distinct steps and distinct seeds give unrelated probes.
std::uint64_t probe_seed(std::uint64_t seed, std::int64_t step) {
  return splitmix64(seed ^ splitmix64(static_cast<std::uint64_t>(step) + 0x632BE59BD9B4E019ull));
}

class AdaHessianOptimizer final : public Optimizer {
 public:
  AdaHessianOptimizer(const OptimizerConfig& config, Backend& backend, float* params,
                      float* grads, std::size_t n)
      : Optimizer(backend, params, grads, n, kStateSlices * n), config_(config) {}

  std::string name() const override { return "adahessian"; }

  void step(float lr, const RecomputeGradients& recompute) override {
    CHORUS_CHECK(std::isfinite(lr) && lr >= 0.0f, "learning rate must be finite and >= 0");
    if (!have_hessian_ || steps_ % config_.hessian_every == 0) refresh_hessian(recompute);
    const AdamHyper h = adam_hyper(config_, lr, steps_ + 1);
    backend_.adam_step(params_, grads_, slice(2), slice(0), slice(1), n_, h);
    ++steps_;
  }

 private:
  float* slice(std::size_t i) { return state_.data() + i * n_; }

  void refresh_hessian(const RecomputeGradients& recompute) {
    CHORUS_CHECK(static_cast<bool>(recompute),
                 "adahessian needs a callback that recomputes the gradients");
    float* hessian = slice(2);
    float* probe = slice(3);
    float* saved_grads = slice(4);
    float* saved_params = slice(5);
    backend_.rademacher(probe, n_, probe_seed(config_.seed, steps_));
    backend_.copy(saved_grads, grads_, n_);
    backend_.copy(saved_params, params_, n_);
    backend_.axpby(config_.hessian_fd_eps, probe, 1.0f, params_, n_);
    try {
      recompute();
    } catch (...) {
      backend_.copy(params_, saved_params, n_);
      backend_.copy(grads_, saved_grads, n_);
      throw;
    }
    backend_.copy(params_, saved_params, n_);
    backend_.hutchinson(probe, grads_, saved_grads, config_.hessian_fd_eps, hessian, n_);
    backend_.copy(grads_, saved_grads, n_);
    have_hessian_ = true;
  }

  OptimizerConfig config_;
  bool have_hessian_ = false;  // D computed by this object (state copied in is not trusted)
};

const bool registered = optimizer_registry().add(
    {"adahessian", "AdaHessian: Adam on a Hutchinson estimate of the Hessian diagonal", 30, 0.05f,
     [](const OptimizerConfig& config, Backend& backend, float* params, float* grads, std::size_t n)
        -> std::unique_ptr<Optimizer> {
       return std::make_unique<AdaHessianOptimizer>(config, backend, params, grads, n);
     }});

}  // namespace
}  // namespace chorus::optim
