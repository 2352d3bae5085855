// The models chorus can train, by name. Both take Fashion-MNIST images (1, 28, 28) and give
// 10 logits; the architectures and initialisation match their PyTorch equivalents
// (nn.Linear / nn.Conv2d defaults), so runs compare with a PyTorch baseline.
#include "foundations/models/layers.h"
#include "foundations/models/model.h"
#include "foundations/models/model_registry.h"

namespace chorus {

namespace {

constexpr SampleShape kImage{1, 28, 28};
constexpr int kClasses = 10;

// 784-256-128-10 with ReLU between the layers.
std::vector<std::unique_ptr<Layer>> mlp_layers() {
  std::vector<std::unique_ptr<Layer>> layers;
  layers.push_back(make_linear_layer("fc1", kImage, 256, Activation::relu));
  layers.push_back(make_linear_layer("fc2", layers.back()->output_shape(), 128, Activation::relu));
  layers.push_back(
      make_linear_layer("fc3", layers.back()->output_shape(), kClasses, Activation::none));
  return layers;
}

// conv5x5(16, pad 2)+ReLU - maxpool 2 - conv5x5(32, pad 2)+ReLU - maxpool 2 - fc128+ReLU - fc10.
std::vector<std::unique_ptr<Layer>> cnn_layers() {
  std::vector<std::unique_ptr<Layer>> layers;
  layers.push_back(make_conv2d_layer("conv1", kImage, 16, 5, 1, 2, Activation::relu));
  layers.push_back(make_maxpool2d_layer(layers.back()->output_shape(), 2));
  layers.push_back(
      make_conv2d_layer("conv2", layers.back()->output_shape(), 32, 5, 1, 2, Activation::relu));
  layers.push_back(make_maxpool2d_layer(layers.back()->output_shape(), 2));
  layers.push_back(make_linear_layer("fc1", layers.back()->output_shape(), 128, Activation::relu));
  layers.push_back(
      make_linear_layer("fc2", layers.back()->output_shape(), kClasses, Activation::none));
  return layers;
}

const bool mlp_registered = model_registry().add(
    {"mlp", "784-256-128-10 with ReLU", 10, kImage, mlp_layers});
const bool cnn_registered = model_registry().add(
    {"cnn", "conv5x5(16)-pool-conv5x5(32)-pool-fc128-fc10 with ReLU", 20, kImage, cnn_layers});

}  // namespace

}  // namespace chorus
