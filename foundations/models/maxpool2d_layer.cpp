// Max pooling; owns the argmax indices that carry the forward pass's choices to backward.
#include "foundations/base/error.h"
#include "foundations/models/layers.h"

namespace chorus {

namespace {

class MaxPool2dLayer final : public Layer {
 public:
  MaxPool2dLayer(SampleShape input, int window) {
    shape_.channels = input.c;
    shape_.height = input.h;
    shape_.width = input.w;
    shape_.window = window;
    CHORUS_CHECK(input.c > 0 && window > 0 && shape_.out_height() > 0 && shape_.out_width() > 0,
                 "maxpool2d layer: invalid shape");
  }

  std::string kind() const override { return "maxpool2d"; }
  SampleShape output_shape() const override {
    return {shape_.channels, shape_.out_height(), shape_.out_width()};
  }

  void declare(ParamLayout&) override {}
  void init(float*, std::mt19937_64&) const override {}

  void setup(Backend& backend, int max_batch) override {
    max_batch_ = max_batch;
    argmax_ = DeviceBuffer<std::int32_t>(backend, static_cast<std::size_t>(max_batch) *
                                                      output_shape().size());
  }

  void forward(Backend& backend, const float*, const float* x, float* y, int batch) override {
    check_batch(batch);
    backend.maxpool2d_forward(x, y, argmax_.data(), batch_shape(batch));
  }

  void backward(Backend& backend, const float*, float*, const float*, const float*, float* dy,
                float* dx, int batch) override {
    check_batch(batch);
    if (dx) backend.maxpool2d_backward(dy, argmax_.data(), dx, batch_shape(batch));
  }

  double forward_flops_per_sample() const override { return 0.0; }  // no multiply-adds

 private:
  PoolShape batch_shape(int batch) const {
    PoolShape s = shape_;
    s.batch = batch;
    return s;
  }
  void check_batch(int batch) const {
    CHORUS_CHECK(batch > 0 && batch <= max_batch_,
                 "maxpool2d layer: batch outside what setup() allowed");
  }

  PoolShape shape_;  // batch unset; filled per call
  int max_batch_ = 0;
  DeviceBuffer<std::int32_t> argmax_;
};

}  // namespace

std::unique_ptr<Layer> make_maxpool2d_layer(SampleShape input, int window) {
  return std::make_unique<MaxPool2dLayer>(input, window);
}

}  // namespace chorus
