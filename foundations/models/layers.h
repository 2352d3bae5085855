#pragma once
// The layer kinds models are built from. Each registers its tensors under a name prefix
// ("fc1" -> "fc1.weight", "fc1.bias"), runs on the backend's layer ops, and owns the
// per-batch state those ops need (convolution workspace, pooling indices), sized in setup().
// Flattening is implicit: an (N, C, H, W) activation is contiguous, so a linear layer reads it
// as (N, C*H*W). Layers are not thread-safe; a layer must be declared and set up before
// forward/backward, and batches above setup()'s max_batch are a caller bug (InvariantError).
#include <memory>
#include <string>

#include "foundations/backends/backend.h"
#include "foundations/models/model.h"

namespace chorus {

// y = act(x W^T + b) with W (out, in), in = input.size(). PyTorch's default initialisation:
// W and b uniform in +-1/sqrt(in).
std::unique_ptr<Layer> make_linear_layer(std::string name, SampleShape input, int out,
                                         Activation act);

// y = act(conv(x, W) + b) with W (out_channels, C, kernel, kernel), zero padding `pad`.
// PyTorch's default initialisation: W and b uniform in +-1/sqrt(C*kernel*kernel).
std::unique_ptr<Layer> make_conv2d_layer(std::string name, SampleShape input, int out_channels,
                                         int kernel, int stride, int pad, Activation act);

// Max pooling with a square window equal to its stride; no parameters.
std::unique_ptr<Layer> make_maxpool2d_layer(SampleShape input, int window);

}  // namespace chorus
