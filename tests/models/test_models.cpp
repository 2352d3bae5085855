// The model zoo and Model: architecture and layout, initialisation, and train_batch's
// gradients against central differences of the loss, for the mlp and the cnn.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "foundations/backends/backend.h"
#include "foundations/base/error.h"
#include "foundations/models/model.h"
#include "tests/backends/gradient_check.h"
#include "tests/models/reference_net.h"

using chorus::Model;
using chorus_test::check_gradient;
using chorus_test::random_floats;
using chorus_test::Tolerance;

namespace {

// A batch of inputs and labels in the model's backend memory.
struct Batch {
  chorus::DeviceBuffer<float> x;
  chorus::DeviceBuffer<std::int32_t> labels;
  std::vector<float> host_x;
  std::vector<std::int32_t> host_labels;
  int size;

  Batch(chorus::Backend& backend, const Model& model, int n, std::uint64_t seed)
      : x(backend, model.input_shape().size() * n), labels(backend, n), size(n) {
    host_x = random_floats(model.input_shape().size() * n, seed, 0.0f, 1.0f);
    host_labels.resize(n);
    for (int i = 0; i < n; ++i) host_labels[i] = static_cast<std::int32_t>((seed + 3 * i) % 10);
    x.upload(host_x.data(), host_x.size());
    labels.upload(host_labels.data(), host_labels.size());
  }
};

std::vector<float> download_grads(const Model& m) {
  std::vector<float> g(m.size());
  m.backend().to_host(g.data(), m.grads(), g.size() * sizeof(float));
  return g;
}

// train_batch's gradient of every tensor, at 12 random entries plus the 3 of largest
// magnitude, against central differences of a double-precision reference of the
// same network (whose loss must match eval_batch's).
void check_model_gradients(const std::string& name, int max_batch, int batch) {
  CAPTURE(name);
  CAPTURE(batch);
  auto backend = chorus::make_cpu_backend();
  auto model = Model::create(name, *backend, max_batch, 17);
  Batch b(*backend, *model, batch, 23);
  model->train_batch(b.x.data(), b.labels.data(), batch);
  const auto grads = download_grads(*model);
  const float model_loss = model->last_loss();

  const auto host_params = model->get_params();
  std::vector<double> params(host_params.begin(), host_params.end());
  chorus_test::ReferenceNet net(*model, std::vector<double>(b.host_x.begin(), b.host_x.end()),
                                b.host_labels);
  const double reference_loss = net.loss(params);
  CHECK(model_loss == doctest::Approx(reference_loss).epsilon(1e-5));

  // Double precision: a small step keeps clear of most ReLU and pooling kinks, and the
  // remaining error is the float rounding of the backward pass.
  const Tolerance tol{1e-6, 2e-3, 1e-6};
  int compared = 0, skipped = 0;
  for (const auto& t : model->layout().tensors()) {
    CAPTURE(t.name);
    const std::size_t first_layer = net.layer_of(t.offset);
    auto loss = [&] { return net.loss_from(params, first_layer); };
    auto pattern = [&] { return net.decisions(); };
    auto indices = chorus_test::sample_indices(t.size(), 12, t.offset + batch);
    std::vector<std::size_t> by_size(t.size());
    std::iota(by_size.begin(), by_size.end(), std::size_t{0});
    const std::size_t top = std::min<std::size_t>(3, t.size());
    std::partial_sort(by_size.begin(), by_size.begin() + top, by_size.end(),
                      [&](std::size_t i, std::size_t j) {
                        return std::fabs(grads[t.offset + i]) > std::fabs(grads[t.offset + j]);
                      });
    indices.insert(indices.end(), by_size.begin(), by_size.begin() + top);
    for (auto& i : indices) i += t.offset;
    const auto report = check_gradient(t.name.c_str(), params, grads, indices, loss, tol, pattern);
    CHECK(report.failed == 0);
    CHECK(report.analytic_max_abs > 1e-4);
    compared += report.compared;
    skipped += report.skipped;
  }
  CHECK(skipped <= compared / 20);
}

}  // namespace

TEST_CASE("model zoo names and errors") {
  CHECK(Model::names() == std::vector<std::string>{"mlp", "cnn"});
  auto backend = chorus::make_cpu_backend();
  try {
    Model::create("resnet", *backend, 8, 1);
    FAIL("an unknown model was accepted");
  } catch (const chorus::UserError& e) {
    CHECK(std::string(e.what()) == "unknown model 'resnet' (choose one of: mlp, cnn)");
  }
  CHECK_THROWS_AS(Model::create("mlp", *backend, 0, 1), chorus::UserError);
}

TEST_CASE("mlp architecture") {
  auto backend = chorus::make_cpu_backend();
  auto m = Model::create("mlp", *backend, 4, 1);
  CHECK(m->name() == "mlp");
  CHECK(m->classes() == 10);
  CHECK(m->input_shape().size() == 784);
  CHECK(m->max_batch() == 4);
  std::vector<std::string> names;
  for (const auto& t : m->layout().tensors()) names.push_back(t.name);
  CHECK(names == std::vector<std::string>{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias",
                                          "fc3.weight", "fc3.bias"});
  CHECK(m->layout().find("fc1.weight").shape == std::vector<int>{256, 784});
  CHECK(m->layout().find("fc2.weight").shape == std::vector<int>{128, 256});
  CHECK(m->layout().find("fc3.weight").shape == std::vector<int>{10, 128});
  CHECK(m->layout().count() == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10);
  CHECK(m->forward_flops_per_sample() == 2.0 * (784 * 256 + 256 * 128 + 128 * 10));
  // Backward skips the first layer's input gradient.
  CHECK(m->train_flops_per_sample() ==
        3.0 * m->forward_flops_per_sample() - 2.0 * 784 * 256);
}

TEST_CASE("cnn architecture") {
  auto backend = chorus::make_cpu_backend();
  auto m = Model::create("cnn", *backend, 4, 1);
  CHECK(m->classes() == 10);
  std::vector<std::string> kinds;
  for (const auto& l : m->layers()) kinds.push_back(l->kind());
  CHECK(kinds == std::vector<std::string>{"conv2d", "maxpool2d", "conv2d", "maxpool2d", "linear",
                                          "linear"});
  CHECK(m->layout().find("conv1.weight").shape == std::vector<int>{16, 1, 5, 5});
  CHECK(m->layout().find("conv2.weight").shape == std::vector<int>{32, 16, 5, 5});
  CHECK(m->layout().find("fc1.weight").shape == std::vector<int>{128, 32 * 7 * 7});
  CHECK(m->layout().find("fc2.weight").shape == std::vector<int>{10, 128});
  CHECK(m->layout().count() == 16 * 25 + 16 + 32 * 16 * 25 + 32 + 1568 * 128 + 128 + 1280 + 10);
  const double conv1 = 2.0 * 16 * 28 * 28 * 25, conv2 = 2.0 * 32 * 14 * 14 * 400;
  CHECK(m->forward_flops_per_sample() == conv1 + conv2 + 2.0 * 1568 * 128 + 2.0 * 128 * 10);
}

TEST_CASE("initialisation is a deterministic function of the seed") {
  for (const auto& name : Model::names()) {
    CAPTURE(name);
    auto backend = chorus::make_cpu_backend();
    auto a = Model::create(name, *backend, 2, 42);
    auto b = Model::create(name, *backend, 7, 42);  // the batch size plays no part
    auto c = Model::create(name, *backend, 2, 43);
    const auto pa = a->get_params(), pb = b->get_params(), pc = c->get_params();
    CHECK(pa == pb);
    std::size_t differ = 0;
    for (std::size_t i = 0; i < pa.size(); ++i) differ += pa[i] != pc[i];
    CHECK(differ > a->layout().count() * 99 / 100);
    // Every tensor in +-1/sqrt(fan_in), and the alignment padding zero.
    std::vector<bool> owned(pa.size(), false);
    for (const auto& t : a->layout().tensors()) {
      const auto& weight_shape =
          a->layout().find(t.name.substr(0, t.name.find('.')) + ".weight").shape;
      double fan_in = 1.0;
      for (std::size_t d = 1; d < weight_shape.size(); ++d) fan_in *= weight_shape[d];
      const float bound = static_cast<float>(1.0 / std::sqrt(fan_in));
      float max_abs = 0.0f;
      for (std::size_t i = 0; i < t.size(); ++i) {
        owned[t.offset + i] = true;
        max_abs = std::max(max_abs, std::fabs(pa[t.offset + i]));
      }
      CAPTURE(t.name);
      CHECK(max_abs <= bound);
      CHECK(max_abs > 0.5f * bound);
    }
    for (std::size_t i = 0; i < pa.size(); ++i)
      if (!owned[i]) REQUIRE(pa[i] == 0.0f);
  }
}

TEST_CASE("mlp gradients match central differences") {
  check_model_gradients("mlp", 8, 1);
  check_model_gradients("mlp", 8, 8);
}

TEST_CASE("cnn gradients match central differences") {
  check_model_gradients("cnn", 6, 1);
  check_model_gradients("cnn", 6, 6);
}

TEST_CASE("a batch's gradient is the mean of its samples' gradients") {
  for (const auto& name : Model::names()) {
    CAPTURE(name);
    const int n = 9;
    auto backend = chorus::make_cpu_backend();
    auto m = Model::create(name, *backend, n, 3);
    Batch b(*backend, *m, n, 5);
    m->train_batch(b.x.data(), b.labels.data(), n);
    const auto whole = download_grads(*m);
    const float whole_loss = m->last_loss();
    std::vector<double> mean(whole.size(), 0.0);
    double mean_loss = 0.0;
    const std::size_t sample = m->input_shape().size();
    for (int i = 0; i < n; ++i) {
      m->train_batch(b.x.data() + i * sample, b.labels.data() + i, 1);
      const auto g = download_grads(*m);
      for (std::size_t j = 0; j < g.size(); ++j) mean[j] += g[j] / n;
      mean_loss += m->last_loss() / n;
    }
    CHECK(whole_loss == doctest::Approx(mean_loss).epsilon(1e-5));
    double max_abs = 0.0;
    for (double v : mean) max_abs = std::max(max_abs, std::fabs(v));
    int bad = 0;
    for (std::size_t j = 0; j < whole.size(); ++j)
      if (std::fabs(whole[j] - mean[j]) > 1e-5 * max_abs + 1e-7 && ++bad <= 3)
        FAIL_CHECK("grad " << j << ": batch " << whole[j] << " vs mean of samples " << mean[j]);
  }
}

TEST_CASE("train_batch overwrites the gradients and leaves the parameters alone") {
  for (const auto& name : Model::names()) {
    CAPTURE(name);
    auto backend = chorus::make_cpu_backend();
    auto m = Model::create(name, *backend, 5, 8);
    Batch b(*backend, *m, 5, 9);
    const auto before = m->get_params();
    m->train_batch(b.x.data(), b.labels.data(), 5);
    const auto first = download_grads(*m);
    CHECK(m->get_params() == before);
    backend->fill(m->grads(), std::numeric_limits<float>::quiet_NaN(), m->size());
    m->train_batch(b.x.data(), b.labels.data(), 5);
    const auto second = download_grads(*m);
    // Every gradient entry rewritten (a NaN left anywhere would be one skipped or added to).
    for (const auto& t : m->layout().tensors()) {
      CAPTURE(t.name);
      for (std::size_t i = t.offset; i < t.offset + t.size(); ++i)
        REQUIRE(first[i] == second[i]);
    }
  }
}

TEST_CASE("eval_batch reports the loss and accuracy of the logits") {
  for (const auto& name : Model::names()) {
    CAPTURE(name);
    auto backend = chorus::make_cpu_backend();
    const int n = 7;
    auto m = Model::create(name, *backend, n, 4);
    Batch b(*backend, *m, n, 11);
    // Same loss from eval_batch and train_batch.
    m->train_batch(b.x.data(), b.labels.data(), n);
    const float train_loss = m->last_loss();
    const int train_correct = m->last_correct();
    m->eval_batch(b.x.data(), b.labels.data(), n);
    CHECK(m->last_loss() == train_loss);
    CHECK(m->last_correct() == train_correct);
    CHECK(train_loss > 1.5f);  // untrained: near log(10)
    CHECK(train_loss < 3.5f);

    // Zero the last layer's weights: the logits become its bias, which favours class 3.
    auto params = m->get_params();
    const auto& tensors = m->layout().tensors();
    const auto& w = tensors[tensors.size() - 2];
    const auto& bias = tensors.back();
    std::fill(params.begin() + w.offset, params.begin() + w.offset + w.size(), 0.0f);
    double sum_exp = 0.0;
    for (int c = 0; c < 10; ++c) {
      params[bias.offset + c] = c == 3 ? 2.0f : 0.1f * c;
      sum_exp += std::exp(static_cast<double>(params[bias.offset + c]));
    }
    m->set_params(params);
    m->eval_batch(b.x.data(), b.labels.data(), n);
    double want_loss = 0.0;
    int want_correct = 0;
    for (int label : b.host_labels) {
      want_loss += std::log(sum_exp) - params[bias.offset + label];
      want_correct += label == 3;
    }
    CHECK(want_correct > 0);
    CHECK(m->last_correct() == want_correct);
    CHECK(m->last_loss() == doctest::Approx(want_loss / n).epsilon(1e-5));
  }
}

TEST_CASE("a few SGD steps on one batch lower its loss") {
  for (const auto& name : Model::names()) {
    CAPTURE(name);
    auto backend = chorus::make_cpu_backend();
    const int n = 16;
    auto m = Model::create(name, *backend, n, 6);
    Batch b(*backend, *m, n, 12);
    chorus::DeviceBuffer<float> velocity(*backend, m->size());
    chorus::SgdHyper h;
    h.lr = 0.05f;
    m->eval_batch(b.x.data(), b.labels.data(), n);
    const float initial = m->last_loss();
    for (int step = 0; step < 50; ++step) {
      m->train_batch(b.x.data(), b.labels.data(), n);
      backend->sgd_step(m->params(), m->grads(), velocity.data(), m->size(), h);
    }
    m->eval_batch(b.x.data(), b.labels.data(), n);
    CHECK(m->last_loss() < 0.5f * initial);
    CHECK(m->last_correct() >= n - 2);
  }
}
