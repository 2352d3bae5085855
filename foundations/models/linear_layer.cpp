// A fully connected layer with an optional fused ReLU.
#include <cmath>

#include "foundations/base/error.h"
#include "foundations/models/layers.h"
#include "foundations/models/param_init.h"

namespace chorus {

namespace {

class LinearLayer final : public Layer {
 public:
  LinearLayer(std::string name, SampleShape input, int out, Activation act)
      : name_(std::move(name)), in_(static_cast<int>(input.size())), out_(out), act_(act) {
    CHORUS_CHECK(in_ > 0 && out_ > 0, "linear layer " + name_ + ": non-positive size");
  }

  std::string kind() const override { return "linear"; }
  SampleShape output_shape() const override { return {out_, 1, 1}; }

  void declare(ParamLayout& layout) override {
    weight_ = layout.add(name_ + ".weight", {out_, in_});
    bias_ = layout.add(name_ + ".bias", {out_});
    declared_ = true;
  }

  void init(float* host_params, std::mt19937_64& rng) const override {
    CHORUS_CHECK(declared_, "linear layer " + name_ + " initialised before declare()");
    const float bound = 1.0f / std::sqrt(static_cast<float>(in_));
    fill_uniform(host_params + weight_, static_cast<std::size_t>(out_) * in_, bound, rng);
    fill_uniform(host_params + bias_, static_cast<std::size_t>(out_), bound, rng);
  }

  void setup(Backend&, int max_batch) override { max_batch_ = max_batch; }

  void forward(Backend& backend, const float* params, const float* x, float* y,
               int batch) override {
    check_batch(batch);
    backend.linear_forward(x, params + weight_, params + bias_, y, batch, in_, out_, act_);
  }

  void backward(Backend& backend, const float* params, float* grads, const float* x,
                const float* y, float* dy, float* dx, int batch) override {
    check_batch(batch);
    backend.linear_backward(x, params + weight_, y, dy, dx, grads + weight_, grads + bias_, batch,
                            in_, out_, act_);
  }

  double forward_flops_per_sample() const override { return 2.0 * in_ * out_; }

 private:
  void check_batch(int batch) const {
    CHORUS_CHECK(declared_ && batch > 0 && batch <= max_batch_,
                 "linear layer " + name_ + ": batch outside what setup() allowed");
  }

  std::string name_;
  int in_, out_;
  Activation act_;
  std::size_t weight_ = 0, bias_ = 0;
  bool declared_ = false;
  int max_batch_ = 0;
};

}  // namespace

std::unique_ptr<Layer> make_linear_layer(std::string name, SampleShape input, int out,
                                         Activation act) {
  return std::make_unique<LinearLayer>(std::move(name), input, out, act);
}

}  // namespace chorus
