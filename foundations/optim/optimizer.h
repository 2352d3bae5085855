#pragma once
// Optimizer: updates a model's flat parameter buffer from its flat gradient buffer.
//
// Contract
// - All optimizer state (momentum, Adam moments, AdaHessian's diagonal) is one flat buffer of
//   state_size() floats in the model's backend memory, so it can be checkpointed and
//   transferred to a joining peer as one block. Layouts, in slices of n floats: sgd
//   [velocity], adam [m | v], adahessian [m | v | D | probe | saved grads | saved params]
//   (the last three are scratch within one step).
// - step() is given the step's learning rate (from LrSchedule) and a callback that
//   recomputes the gradient buffer on the current batch at the current parameter buffer; only AdaHessian calls it (for its Hessian-vector product). On return the
//   gradient buffer holds the batch gradient at the pre-step parameters again.
// - Deterministic: same inputs, same seed, same result.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "foundations/backends/backend.h"

namespace chorus {

struct OptimizerConfig {
  std::string name = "sgd";  // a registered optimizer: sgd | adam | adahessian
  float momentum = 0.9f;
  bool nesterov = false;
  float weight_decay = 0.0f;
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  float hessian_fd_eps = 1e-3f;  // AdaHessian: epsilon of the finite-difference Hv
  int hessian_every = 1;         // AdaHessian: refresh the Hessian estimate every N steps
  std::uint64_t seed = 0;        // AdaHessian: Rademacher probe seed
};

class Optimizer {
 public:
  using RecomputeGradients = std::function<void()>;

  // An optimizer for the flat buffers params/grads (n floats each, backend memory); for a
  // model: create(config, model.backend(), model.params(), model.grads(), model.size()).
  // Throws UserError for an unknown name.
  static std::unique_ptr<Optimizer> create(const OptimizerConfig& config, Backend& backend,
                                           float* params, float* grads, std::size_t n);
  // The registered optimizers (optimizer_registry.h), in listing order.
  static std::vector<std::string> names();
  // The peak learning rate of optimizer `name` when none is given; UserError for an unknown one.
  static float default_lr(const std::string& name);
  // Checks `config` as create() does, without making an optimizer: UserError for an unknown
  // name or a hyper-parameter out of its range.
  static void check(const OptimizerConfig& config);

  virtual ~Optimizer() = default;
  virtual std::string name() const = 0;
  virtual void step(float lr, const RecomputeGradients& recompute) = 0;

  float* state() { return state_.data(); }
  std::size_t state_size() const { return state_.size(); }
  std::int64_t steps() const { return steps_; }
  void set_steps(std::int64_t steps) { steps_ = steps; }

 protected:
  Optimizer(Backend& backend, float* params, float* grads, std::size_t n,
            std::size_t state_floats)
      : backend_(backend), params_(params), grads_(grads), n_(n),
        state_(backend, state_floats) {}
  Backend& backend_;
  float* params_;
  float* grads_;
  std::size_t n_;
  DeviceBuffer<float> state_;
  std::int64_t steps_ = 0;
};

}  // namespace chorus
