// A short training run on both backends: the same model and seed, the same synthetic batches,
// 50 steps of SGD with momentum; the CUDA loss curve must follow the CPU one. Skipped (exit
// 77) when no CUDA device is usable.
//
// Tolerance: every step's loss within 2e-3 of the CPU's (relative above 1), and the final
// parameters within 2e-3 relative (L2) of the CPU's. Per-op rounding differences are ~1e-6;
// on the CPU alone, perturbing the initial parameters by 1e-5 relative (ten times that) moves
// the losses by at most 2e-4 and the final parameters by 4e-4 over these 50 steps, so the
// bounds leave a wide margin while still catching any wrong gradient.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "foundations/backends/backend.h"
#include "foundations/models/model.h"
#include "tests/cuda/cuda_test_util.h"

using namespace chorus;
using chorus_cuda_test::require_cuda;

namespace {

constexpr int kBatch = 64;
constexpr int kSteps = 50;
constexpr int kClasses = 10;

// Learnable synthetic images (so the test needs no data files): class c is a bright
// rectangle whose place depends on c, plus a fixed random speckle of the class, over a dark
// noisy background, normalised with Fashion-MNIST's mean and deviation. With these images and
// a small learning rate both models learn fast while staying in the well-conditioned regime
// where rounding differences stay small (on the CPU, a 1e-6 relative perturbation of the
// initial parameters moves the 50th loss by ~1e-6 and the parameters by ~1e-5).
class SyntheticBatches {
 public:
  SyntheticBatches(std::size_t sample_size, std::uint64_t seed)
      : sample_size_(sample_size), rng_(seed), speckle_(kClasses * sample_size) {
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (float& p : speckle_) p = u(rng_);
  }

  void next(std::vector<float>& x, std::vector<std::int32_t>& labels) {
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    x.resize(kBatch * sample_size_);
    labels.resize(kBatch);
    for (int i = 0; i < kBatch; ++i) {
      const auto c = static_cast<int>(rng_() % kClasses);
      labels[i] = c;
      for (std::size_t j = 0; j < sample_size_; ++j) {
        const int row = static_cast<int>(j / kSide), col = static_cast<int>(j % kSide);
        const bool bright = (row >= 2 + 2 * c && row < 8 + 2 * c && col >= 4 + c && col < 14 + c) ||
                            speckle_[c * sample_size_ + j] < 0.15f;
        const float v = bright ? 0.5f + 0.5f * u(rng_) : 0.1f * u(rng_);
        x[i * sample_size_ + j] = (v - 0.286f) / 0.353f;
      }
    }
  }

 private:
  static constexpr int kSide = 28;
  std::size_t sample_size_;
  std::mt19937_64 rng_;
  std::vector<float> speckle_;
};

// Trains `model` for kSteps on the batches of `seed`, returning the loss of each step.
std::vector<float> train(Model& model, std::uint64_t seed) {
  Backend& backend = model.backend();
  const std::size_t sample = model.input_shape().size();
  SyntheticBatches batches(sample, seed);
  DeviceBuffer<float> x(backend, kBatch * sample);
  DeviceBuffer<std::int32_t> labels(backend, kBatch);
  DeviceBuffer<float> velocity(backend, model.size());
  std::vector<float> host_x;
  std::vector<std::int32_t> host_labels;
  SgdHyper hyper;
  hyper.lr = 0.005f;
  hyper.momentum = 0.9f;
  std::vector<float> losses;
  for (int step = 0; step < kSteps; ++step) {
    batches.next(host_x, host_labels);
    x.upload(host_x.data(), host_x.size());
    labels.upload(host_labels.data(), host_labels.size());
    model.train_batch(x.data(), labels.data(), kBatch);
    backend.sgd_step(model.params(), model.grads(), velocity.data(), model.size(), hyper);
    losses.push_back(model.last_loss());
  }
  return losses;
}

double relative_l2(const std::vector<float>& want, const std::vector<float>& got) {
  double diff = 0.0, norm = 0.0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double d = static_cast<double>(want[i]) - got[i];
    diff += d * d;
    norm += static_cast<double>(want[i]) * want[i];
  }
  return std::sqrt(diff / norm);
}

}  // namespace

TEST_CASE("mlp and cnn: the CUDA loss curve matches the CPU's") {
  require_cuda();
  for (const std::string name : {"mlp", "cnn"}) {
    CAPTURE(name);
    auto cpu = make_cpu_backend();
    auto cuda = make_cuda_backend();
    auto cpu_model = Model::create(name, *cpu, kBatch, 17);
    auto cuda_model = Model::create(name, *cuda, kBatch, 17);
    REQUIRE(cpu_model->size() == cuda_model->size());
    CHECK(cpu_model->get_params() == cuda_model->get_params());  // same initialisation

    const std::vector<float> cpu_losses = train(*cpu_model, 99);
    const std::vector<float> cuda_losses = train(*cuda_model, 99);

    // The run learns (so matching curves are not two flat lines).
    CHECK(cpu_losses.back() < 0.25f * cpu_losses.front());
    for (int step = 0; step < kSteps; ++step) {
      CAPTURE(step);
      CAPTURE(cpu_losses[step]);
      CAPTURE(cuda_losses[step]);
      CHECK(std::isfinite(cuda_losses[step]));
      CHECK(std::fabs(cuda_losses[step] - cpu_losses[step]) <=
            2e-3 * std::max(1.0f, std::fabs(cpu_losses[step])));
    }
    const double drift = relative_l2(cpu_model->get_params(), cuda_model->get_params());
    CAPTURE(drift);
    CHECK(drift < 2e-3);
  }
}
