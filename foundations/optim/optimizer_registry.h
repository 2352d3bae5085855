#pragma once
// The optimizer registry (foundations/base/registry.h): every optimizer by name, with its
// default peak learning rate and its factory, each record added by the optimizer's own file.
// Optimizer::create builds one; `--optimizer` lists them.
//
// A factory receives a configuration already checked by check_optimizer_config() and the flat
// params/grads buffers (n floats each, backend memory). Every update runs as Backend ops on
// those buffers, so the same code drives the CPU and the CUDA backend.
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "foundations/base/registry.h"
#include "foundations/optim/optimizer.h"

namespace chorus {

struct OptimizerRecord {
  std::string name;
  std::string description;
  int order = 0;
  float default_lr = 0;  // the peak learning rate when --lr is not given
  std::function<std::unique_ptr<Optimizer>(const OptimizerConfig&, Backend&, float* params, float* grads,
                                           std::size_t n)>
      make;
};

Registry<OptimizerRecord>& optimizer_registry();

namespace optim {
// Throws UserError naming the optimizer and the first out-of-range hyper-parameter.
void check_optimizer_config(const OptimizerConfig& config);
// The hyper-parameters of an Adam update (Adam's own, AdaHessian's) at optimizer step `step`
// (1-based) with learning rate `lr`.
AdamHyper adam_hyper(const OptimizerConfig& config, float lr, std::int64_t step);
}  // namespace optim

}  // namespace chorus
