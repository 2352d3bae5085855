// Model: lays the layers' tensors out in one flat buffer, initialises it on the host from the
// seed, and runs forward / softmax cross-entropy / backward over per-layer activations.
#include "foundations/models/model.h"

#include <algorithm>
#include <cmath>

#include "foundations/base/error.h"

namespace chorus {

Model::Model(std::string name, Backend& backend, SampleShape input,
             std::vector<std::unique_ptr<Layer>> layers, int max_batch, std::uint64_t seed)
    : name_(std::move(name)),
      backend_(&backend),
      input_(input),
      layers_(std::move(layers)),
      max_batch_(max_batch) {
  CHORUS_CHECK(!layers_.empty(), "model " + name_ + " has no layers");
  if (max_batch_ < 1)
    throw UserError("model '" + name_ + "': batch size must be at least 1, got " +
                    std::to_string(max_batch_));

  for (auto& layer : layers_) layer->declare(layout_);
  params_ = DeviceBuffer<float>(backend, layout_.total());
  grads_ = DeviceBuffer<float>(backend, layout_.total());
  std::vector<float> host(layout_.total(), 0.0f);
  std::mt19937_64 rng(seed);
  for (const auto& layer : layers_) layer->init(host.data(), rng);
  params_.upload(host.data(), host.size());

  const auto batch = static_cast<std::size_t>(max_batch_);
  std::size_t largest = 0;
  for (auto& layer : layers_) {
    layer->setup(backend, max_batch_);
    const std::size_t out = layer->output_shape().size();
    acts_.emplace_back(backend, batch * out);
    largest = std::max(largest, out);
  }
  dbuf_a_ = DeviceBuffer<float>(backend, batch * largest);
  dbuf_b_ = DeviceBuffer<float>(backend, batch * largest);
  dlogits_ = DeviceBuffer<float>(backend, batch * static_cast<std::size_t>(classes()));
  stats_ = DeviceBuffer<float>(backend, 2);
}

Model::~Model() = default;

int Model::classes() const { return static_cast<int>(layers_.back()->output_shape().size()); }

void Model::forward(const float* x, int batch) {
  CHORUS_CHECK(batch >= 1 && batch <= max_batch_,
               "model " + name_ + ": batch of " + std::to_string(batch) + " outside 1.." +
                   std::to_string(max_batch_));
  const float* in = x;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    layers_[i]->forward(*backend_, params_.data(), in, acts_[i].data(), batch);
    in = acts_[i].data();
  }
}

void Model::train_batch(const float* x, const std::int32_t* labels, int batch) {
  forward(x, batch);
  backend_->softmax_xent(acts_.back().data(), labels, dlogits_.data(), stats_.data(),
                         stats_.data() + 1, batch, classes());
  float* dy = dlogits_.data();
  for (std::size_t i = layers_.size(); i-- > 0;) {
    const float* in = i == 0 ? x : acts_[i - 1].data();
    float* dx = i == 0 ? nullptr : (dy == dbuf_a_.data() ? dbuf_b_.data() : dbuf_a_.data());
    layers_[i]->backward(*backend_, params_.data(), grads_.data(), in, acts_[i].data(), dy, dx,
                         batch);
    dy = dx;
  }
}

void Model::eval_batch(const float* x, const std::int32_t* labels, int batch) {
  forward(x, batch);
  backend_->softmax_xent(acts_.back().data(), labels, nullptr, stats_.data(), stats_.data() + 1,
                         batch, classes());
}

float Model::last_loss() const {
  float stats[2];
  backend_->to_host(stats, stats_.data(), sizeof stats);
  return stats[0];
}

int Model::last_correct() const {
  float stats[2];
  backend_->to_host(stats, stats_.data(), sizeof stats);
  return static_cast<int>(std::lround(stats[1]));
}

std::vector<float> Model::get_params() const {
  std::vector<float> host(size());
  params_.download(host.data(), host.size());
  return host;
}

void Model::set_params(const std::vector<float>& host) {
  CHORUS_CHECK(host.size() == size(), "model " + name_ + ": set_params with " +
                                          std::to_string(host.size()) + " floats, expected " +
                                          std::to_string(size()));
  params_.upload(host.data(), host.size());
}

double Model::forward_flops_per_sample() const {
  double flops = 0.0;
  for (const auto& layer : layers_) flops += layer->forward_flops_per_sample();
  return flops;
}

}  // namespace chorus
