// Range checks of OptimizerConfig: a value the user can fix becomes a UserError naming the
// optimizer, the hyper-parameter, the allowed range and the value given.
#include <cmath>
#include <fmt/format.h>

#include "foundations/base/error.h"
#include "foundations/optim/optimizer_registry.h"

namespace chorus::optim {

namespace {

void require(bool ok, const OptimizerConfig& config, const char* what, const char* range,
             double value) {
  if (!ok)
    throw UserError(fmt::format("optimizer {}: {} must be {}, got {}", config.name, what, range,
                                value));
}

// A beta of 1 never forgets and makes the bias correction divide by zero.
void check_betas(const OptimizerConfig& c) {
  require(std::isfinite(c.beta1) && c.beta1 >= 0.0f && c.beta1 < 1.0f, c, "beta1", "in [0, 1)",
          c.beta1);
  require(std::isfinite(c.beta2) && c.beta2 >= 0.0f && c.beta2 < 1.0f, c, "beta2", "in [0, 1)",
          c.beta2);
  require(std::isfinite(c.eps) && c.eps > 0.0f, c, "eps", "positive", c.eps);
}

}  // namespace

void check_optimizer_config(const OptimizerConfig& c) {
  require(std::isfinite(c.weight_decay) && c.weight_decay >= 0.0f, c, "weight decay",
          "non-negative", c.weight_decay);
  if (c.name == "sgd") {
    require(std::isfinite(c.momentum) && c.momentum >= 0.0f && c.momentum < 1.0f, c,
            "momentum", "in [0, 1)", c.momentum);
    if (c.nesterov && c.momentum == 0.0f)
      throw UserError("optimizer sgd: nesterov needs a non-zero momentum");
    return;
  }
  check_betas(c);
  if (c.name == "adahessian") {
    require(std::isfinite(c.hessian_fd_eps) && c.hessian_fd_eps > 0.0f, c,
            "hessian finite-difference epsilon", "positive", c.hessian_fd_eps);
    require(c.hessian_every >= 1, c, "hessian refresh interval (steps)", "at least 1",
            c.hessian_every);
  }
}

}  // namespace chorus::optim
