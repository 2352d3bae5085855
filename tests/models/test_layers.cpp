// The layers through the Layer interface: the tensors they declare, their initialisation,
// and forward/backward against central differences, with the layer's tensors placed at a
// non-zero offset of the flat buffer so offset mistakes show.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "foundations/backends/backend.h"
#include "foundations/models/layers.h"
#include "foundations/models/model.h"
#include "foundations/params/param_layout.h"
#include "tests/backends/gradient_check.h"

using chorus::Activation;
using chorus::Layer;
using chorus::SampleShape;
using chorus_test::check_gradient;
using chorus_test::random_floats;
using chorus_test::sample_indices;
using chorus_test::Tolerance;
using chorus_test::weighted_sum;

namespace {

constexpr float kSentinel = 12345.0f;

// A layer set up in a flat buffer behind a dummy tensor, with host copies of everything.
struct LayerBench {
  std::unique_ptr<chorus::Backend> backend = chorus::make_cpu_backend();
  std::unique_ptr<Layer> layer;
  chorus::ParamLayout layout;
  SampleShape input;
  int batch;
  std::vector<float> params, x;

  LayerBench(std::unique_ptr<Layer> l, SampleShape in, int b, std::uint64_t seed)
      : layer(std::move(l)), input(in), batch(b) {
    layout.add("before", {3});  // pushes the layer's tensors off offset 0
    layer->declare(layout);
    params.assign(layout.total(), 0.0f);
    std::mt19937_64 rng(seed);
    layer->init(params.data(), rng);
    layer->setup(*backend, batch);
    x = random_floats(in.size() * batch, seed + 1);
  }

  std::size_t out_size() const { return layer->output_shape().size() * batch; }

  std::vector<float> forward() {
    std::vector<float> y(out_size());
    layer->forward(*backend, params.data(), x.data(), y.data(), batch);
    return y;
  }
};

// The sign pattern of an output: the ReLU mask, or for pooling (whose inputs are separated)
// nothing that can change.
std::vector<std::int32_t> positive_mask(const std::vector<float>& y) {
  std::vector<std::int32_t> mask(y.size());
  for (std::size_t i = 0; i < y.size(); ++i) mask[i] = y[i] > 0.0f;
  return mask;
}

// Checks dx and the gradient of every tensor the layer declared, for loss = sum(r .* y);
// gradient entries outside the layer's tensors must stay untouched.
void check_layer_gradients(LayerBench& bench, bool relu, std::size_t per_tensor) {
  const auto y = bench.forward();
  const auto r = random_floats(y.size(), 99);
  std::vector<float> dy = r, dx(bench.x.size(), kSentinel),
                     grads(bench.layout.total(), kSentinel);
  bench.layer->backward(*bench.backend, bench.params.data(), grads.data(), bench.x.data(),
                        y.data(), dy.data(), dx.data(), bench.batch);

  std::vector<float> y2;
  auto loss = [&] {
    y2 = bench.forward();
    return weighted_sum(y2.data(), r);
  };
  chorus_test::Pattern pattern = nullptr;
  if (relu) pattern = [&] { return positive_mask(y2); };
  const Tolerance tol{1e-2f, 1e-2, 1e-4};

  auto report = check_gradient("dx", bench.x, dx, sample_indices(dx.size(), per_tensor, 1), loss,
                               tol, pattern);
  CHECK(report.failed == 0);
  CHECK(report.compared > 0);
  CHECK(report.analytic_max_abs > 1e-3);

  std::vector<bool> owned(grads.size(), false);
  for (const auto& t : bench.layout.tensors()) {
    if (t.name == "before") continue;
    CAPTURE(t.name);
    for (std::size_t i = 0; i < t.size(); ++i) owned[t.offset + i] = true;
    std::vector<std::size_t> indices;
    for (std::size_t i : sample_indices(t.size(), per_tensor, 2)) indices.push_back(t.offset + i);
    report = check_gradient(t.name.c_str(), bench.params, grads, indices, loss, tol, pattern);
    CHECK(report.failed == 0);
    CHECK(report.compared > 0);
    CHECK(report.analytic_max_abs > 1e-3);
  }
  for (std::size_t i = 0; i < grads.size(); ++i) {
    if (!owned[i] && grads[i] != kSentinel) {
      FAIL_CHECK("gradient written outside the layer's tensors at " << i);
      break;
    }
  }
}

}  // namespace

TEST_CASE("linear layer") {
  for (Activation act : {Activation::none, Activation::relu}) {
    const bool relu = act == Activation::relu;
    CAPTURE(relu);
    // Input given as an image: flattening is implicit.
    auto layer = chorus::make_linear_layer("fc", {2, 3, 4}, 7, act);
    CHECK(layer->kind() == "linear");
    CHECK(layer->output_shape().size() == 7);
    CHECK(layer->forward_flops_per_sample() == 2.0 * 24 * 7);
    for (int batch : {1, 5}) {
      CAPTURE(batch);
      LayerBench bench(chorus::make_linear_layer("fc", {2, 3, 4}, 7, act), {2, 3, 4}, batch, 7);
      const auto& w = bench.layout.find("fc.weight");
      CHECK(w.shape == std::vector<int>{7, 24});
      CHECK(bench.layout.find("fc.bias").shape == std::vector<int>{7});
      check_layer_gradients(bench, relu, 60);
    }
  }
}

TEST_CASE("conv2d layer") {
  for (Activation act : {Activation::none, Activation::relu}) {
    const bool relu = act == Activation::relu;
    CAPTURE(relu);
    auto layer = chorus::make_conv2d_layer("conv", {3, 9, 7}, 4, 3, 2, 1, act);
    CHECK(layer->kind() == "conv2d");
    const SampleShape out = layer->output_shape();
    CHECK(out.c == 4);
    CHECK(out.h == 5);
    CHECK(out.w == 4);
    CHECK(layer->forward_flops_per_sample() == 2.0 * 4 * 5 * 4 * 27);
    for (int batch : {1, 6}) {
      CAPTURE(batch);
      LayerBench bench(chorus::make_conv2d_layer("conv", {3, 9, 7}, 4, 3, 2, 1, act), {3, 9, 7},
                       batch, 8);
      CHECK(bench.layout.find("conv.weight").shape == std::vector<int>{4, 3, 3, 3});
      CHECK(bench.layout.find("conv.bias").shape == std::vector<int>{4});
      check_layer_gradients(bench, relu, 60);
    }
  }
}

TEST_CASE("maxpool2d layer") {
  auto layer = chorus::make_maxpool2d_layer({3, 7, 6}, 2);
  CHECK(layer->kind() == "maxpool2d");
  CHECK(layer->output_shape().c == 3);
  CHECK(layer->output_shape().h == 3);
  CHECK(layer->output_shape().w == 3);
  CHECK(layer->forward_flops_per_sample() == 0.0);
  for (int batch : {1, 4}) {
    CAPTURE(batch);
    LayerBench bench(chorus::make_maxpool2d_layer({3, 7, 6}, 2), {3, 7, 6}, batch, 9);
    CHECK(bench.layout.tensors().size() == 1);  // only the dummy: pooling has no parameters
    // Distinct, well separated inputs: no perturbation changes a window's maximum.
    for (std::size_t i = 0; i < bench.x.size(); ++i)
      bench.x[i] = static_cast<float>((i * 37) % bench.x.size()) * 0.05f;
    check_layer_gradients(bench, false, 1000);
  }
}

TEST_CASE("layers initialise like PyTorch's defaults: uniform in +-1/sqrt(fan_in)") {
  struct Case {
    std::unique_ptr<Layer> layer;
    SampleShape input;
    double fan_in;
  };
  Case cases[] = {
      {chorus::make_linear_layer("fc", {300, 1, 1}, 200, Activation::relu), {300, 1, 1}, 300},
      {chorus::make_conv2d_layer("conv", {8, 10, 10}, 32, 5, 1, 2, Activation::relu),
       {8, 10, 10}, 200},
  };
  for (auto& c : cases) {
    chorus::ParamLayout layout;
    c.layer->declare(layout);
    std::vector<float> params(layout.total(), 0.0f);
    std::mt19937_64 rng(5);
    c.layer->init(params.data(), rng);
    const double bound = 1.0 / std::sqrt(c.fan_in);
    for (const auto& t : layout.tensors()) {
      CAPTURE(t.name);
      double sum = 0.0, sum_sq = 0.0, max_abs = 0.0;
      for (std::size_t i = 0; i < t.size(); ++i) {
        const double v = params[t.offset + i];
        REQUIRE(std::fabs(v) <= bound);
        sum += v;
        sum_sq += v * v;
        max_abs = std::max(max_abs, std::fabs(v));
      }
      const double n = static_cast<double>(t.size());
      // U(-b, b) has mean 0 and variance b^2/3; allow a few standard errors.
      CHECK(std::fabs(sum / n) < 4.0 * bound / std::sqrt(3.0 * n));
      if (n >= 1000) CHECK(sum_sq / n == doctest::Approx(bound * bound / 3.0).epsilon(0.05));
      CHECK(max_abs > 0.8 * bound);
    }
  }
}
