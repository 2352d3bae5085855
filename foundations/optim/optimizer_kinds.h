#pragma once
// The concrete optimizers behind Optimizer::create(), one file each. Internal to foundations/optim.
//
// Each factory takes a configuration already checked by check_optimizer_config() and the
// flat params/grads buffers (n floats each, backend memory). Every update runs as Backend
// ops on those buffers, so the same code drives the CPU and the CUDA backend.
#include <cstddef>
#include <memory>

#include "foundations/optim/optimizer.h"

namespace chorus::optim {

// Throws UserError naming the optimizer and the first out-of-range hyper-parameter.
void check_optimizer_config(const OptimizerConfig& config);

std::unique_ptr<Optimizer> make_sgd(const OptimizerConfig& config, Backend& backend,
                                    float* params, float* grads, std::size_t n);
std::unique_ptr<Optimizer> make_adam(const OptimizerConfig& config, Backend& backend,
                                     float* params, float* grads, std::size_t n);
std::unique_ptr<Optimizer> make_adahessian(const OptimizerConfig& config, Backend& backend,
                                           float* params, float* grads, std::size_t n);

}  // namespace chorus::optim
