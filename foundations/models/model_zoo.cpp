// The models chorus can train, by name. Both take Fashion-MNIST images (1, 28, 28) and give
// 10 logits; the architectures and initialisation match their PyTorch equivalents
// (nn.Linear / nn.Conv2d defaults), so runs compare with a PyTorch baseline.
#include "foundations/base/error.h"
#include "foundations/models/layers.h"
#include "foundations/models/model.h"

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

}  // namespace

std::vector<std::string> Model::names() { return {"mlp", "cnn"}; }

std::unique_ptr<Model> Model::create(const std::string& name, Backend& backend, int max_batch,
                                     std::uint64_t seed) {
  std::vector<std::unique_ptr<Layer>> layers;
  if (name == "mlp") {
    layers = mlp_layers();
  } else if (name == "cnn") {
    layers = cnn_layers();
  } else {
    throw UserError("unknown model '" + name + "' (choose mlp or cnn)");
  }
  return std::make_unique<Model>(name, backend, kImage, std::move(layers), max_batch, seed);
}

}  // namespace chorus
