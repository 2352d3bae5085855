#pragma once
// Model: a sequence of layers whose parameters live in one flat buffer on a backend.
//
// Contract
// - params() and grads() are device memory of backend(), each size() floats, laid out by
//   layout(). Strategies and optimizers operate on these flat buffers only.
// - train_batch() overwrites grads() with d(mean loss)/d(params) for the batch; it touches
//   nothing else in params(). Batches may be any size from 1 to max_batch().
// - Initialisation is a deterministic function of (model name, seed): two peers created with
//   the same seed start bit-identical on the same backend.
// - Not thread-safe; the training thread owns it.
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "foundations/backends/backend.h"
#include "foundations/params/param_layout.h"

namespace chorus {

// Per-sample tensor shape (channels, height, width); a flat vector of n is (n, 1, 1).
struct SampleShape {
  int c = 1, h = 1, w = 1;
  std::size_t size() const { return static_cast<std::size_t>(c) * h * w; }
};

class Layer {
 public:
  virtual ~Layer() = default;
  virtual std::string kind() const = 0;  // "linear", "conv2d", "maxpool2d"
  virtual SampleShape output_shape() const = 0;
  // Registers this layer's tensors (called once, in model order).
  virtual void declare(ParamLayout& layout) = 0;
  // Writes this layer's initial tensors into a host copy of the flat buffer.
  virtual void init(float* host_params, std::mt19937_64& rng) const = 0;
  // Allocates per-batch state (pooling indices, workspace) for batches up to max_batch.
  virtual void setup(Backend& backend, int max_batch) = 0;
  virtual void forward(Backend& backend, const float* params, const float* x, float* y,
                       int batch) = 0;
  // dy (gradient w.r.t. y) may be modified in place; dx is null for the first layer.
  virtual void backward(Backend& backend, const float* params, float* grads, const float* x,
                        const float* y, float* dy, float* dx, int batch) = 0;
  virtual double forward_flops_per_sample() const = 0;
};

class Model {
 public:
  // The registered model `name` (model_registry.h: mlp, cnn). Throws UserError for an
  // unknown name.
  static std::unique_ptr<Model> create(const std::string& name, Backend& backend, int max_batch,
                                       std::uint64_t seed);
  // The registered models' names, in listing order.
  static std::vector<std::string> names();

  Model(std::string name, Backend& backend, SampleShape input,
        std::vector<std::unique_ptr<Layer>> layers, int max_batch, std::uint64_t seed);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const std::string& name() const { return name_; }
  Backend& backend() const { return *backend_; }
  const ParamLayout& layout() const { return layout_; }
  std::size_t size() const { return layout_.total(); }
  float* params() { return params_.data(); }
  const float* params() const { return params_.data(); }
  float* grads() { return grads_.data(); }
  const float* grads() const { return grads_.data(); }
  int max_batch() const { return max_batch_; }
  SampleShape input_shape() const { return input_; }
  int classes() const;
  const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }

  // x: (batch, input_shape()) floats, labels: batch int32, both device memory.
  void train_batch(const float* x, const std::int32_t* labels, int batch);
  void eval_batch(const float* x, const std::int32_t* labels, int batch);
  // Of the last train_batch/eval_batch; reading waits for the device.
  float last_loss() const;
  int last_correct() const;

  // Host copies of the flat parameter buffer (size() floats).
  std::vector<float> get_params() const;
  void set_params(const std::vector<float>& host);

  double forward_flops_per_sample() const;
  // Forward, plus backward's weight and input gradients (about twice the forward), less the
  // first layer's input gradient, which is never computed.
  double train_flops_per_sample() const {
    return 3.0 * forward_flops_per_sample() -
           (layers_.empty() ? 0.0 : layers_.front()->forward_flops_per_sample());
  }

 private:
  void forward(const float* x, int batch);

  std::string name_;
  Backend* backend_;
  SampleShape input_;
  std::vector<std::unique_ptr<Layer>> layers_;
  int max_batch_;
  ParamLayout layout_;
  DeviceBuffer<float> params_, grads_;
  std::vector<DeviceBuffer<float>> acts_;   // output of each layer
  DeviceBuffer<float> dbuf_a_, dbuf_b_;    // gradient ping-pong buffers
  DeviceBuffer<float> dlogits_;
  DeviceBuffer<float> stats_;              // [loss, correct]
};

}  // namespace chorus
