// A 2-D convolution with a fused ReLU; owns the im2col workspace the backend lowers into.
#include <cmath>

#include "foundations/base/error.h"
#include "foundations/models/layers.h"
#include "foundations/models/param_init.h"

namespace chorus {

namespace {

class Conv2dLayer final : public Layer {
 public:
  Conv2dLayer(std::string name, SampleShape input, int out_channels, int kernel, int stride,
              int pad, Activation act)
      : name_(std::move(name)), act_(act) {
    shape_.in_channels = input.c;
    shape_.height = input.h;
    shape_.width = input.w;
    shape_.out_channels = out_channels;
    shape_.kernel = kernel;
    shape_.stride = stride;
    shape_.pad = pad;
    CHORUS_CHECK(input.c > 0 && input.h > 0 && input.w > 0 && out_channels > 0 && kernel > 0 &&
                     stride > 0 && pad >= 0 && shape_.out_height() > 0 && shape_.out_width() > 0,
                 "conv2d layer " + name_ + ": invalid shape");
  }

  std::string kind() const override { return "conv2d"; }
  SampleShape output_shape() const override {
    return {shape_.out_channels, shape_.out_height(), shape_.out_width()};
  }

  void declare(ParamLayout& layout) override {
    weight_ = layout.add(name_ + ".weight",
                         {shape_.out_channels, shape_.in_channels, shape_.kernel, shape_.kernel});
    bias_ = layout.add(name_ + ".bias", {shape_.out_channels});
    declared_ = true;
  }

  void init(float* host_params, std::mt19937_64& rng) const override {
    CHORUS_CHECK(declared_, "conv2d layer " + name_ + " initialised before declare()");
    const float bound = 1.0f / std::sqrt(static_cast<float>(fan_in()));
    fill_uniform(host_params + weight_, static_cast<std::size_t>(shape_.out_channels) * fan_in(),
                 bound, rng);
    fill_uniform(host_params + bias_, static_cast<std::size_t>(shape_.out_channels), bound, rng);
  }

  void setup(Backend& backend, int max_batch) override {
    max_batch_ = max_batch;
    workspace_ = DeviceBuffer<float>(backend, batch_shape(max_batch).workspace_floats());
  }

  void forward(Backend& backend, const float* params, const float* x, float* y,
               int batch) override {
    check_batch(batch);
    backend.conv2d_forward(x, params + weight_, params + bias_, y, batch_shape(batch), act_,
                           workspace_.data());
  }

  void backward(Backend& backend, const float* params, float* grads, const float* x,
                const float* y, float* dy, float* dx, int batch) override {
    check_batch(batch);
    backend.conv2d_backward(x, params + weight_, y, dy, dx, grads + weight_, grads + bias_,
                            batch_shape(batch), act_, workspace_.data());
  }

  double forward_flops_per_sample() const override {
    return 2.0 * shape_.out_channels * shape_.out_height() * shape_.out_width() * fan_in();
  }

 private:
  int fan_in() const { return shape_.in_channels * shape_.kernel * shape_.kernel; }
  ConvShape batch_shape(int batch) const {
    ConvShape s = shape_;
    s.batch = batch;
    return s;
  }
  void check_batch(int batch) const {
    CHORUS_CHECK(declared_ && batch > 0 && batch <= max_batch_,
                 "conv2d layer " + name_ + ": batch outside what setup() allowed");
  }

  std::string name_;
  ConvShape shape_;  // batch unset; filled per call
  Activation act_;
  std::size_t weight_ = 0, bias_ = 0;
  bool declared_ = false;
  int max_batch_ = 0;
  DeviceBuffer<float> workspace_;
};

}  // namespace

std::unique_ptr<Layer> make_conv2d_layer(std::string name, SampleShape input, int out_channels,
                                         int kernel, int stride, int pad, Activation act) {
  return std::make_unique<Conv2dLayer>(std::move(name), input, out_channels, kernel, stride, pad,
                                       act);
}

}  // namespace chorus
