// The optimizers on the CUDA backend against the CPU backend: same problem, same seed, the
// same trajectory to float rounding (the GPU may fuse multiply-adds; the Rademacher probes
// are bit-identical). Skipped (exit 77) when no CUDA device is usable.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "foundations/backends/backend.h"
#include "foundations/optim/optimizer.h"
#include "tests/test_util.h"

using namespace chorus;

namespace {

// f(x) = 1/2 (x - c)^T A (x - c) with A diagonally dominant and coupled, its gradient
// computed on the host and moved through the backend's to_host/to_device, so the same code
// drives either backend.
class HostGradientProblem {
 public:
  static constexpr std::size_t n = 48;

  explicit HostGradientProblem(Backend& backend)
      : backend_(backend), params_(backend, n), grads_(backend, n), x_(n), g_(n), c_(n) {
    for (std::size_t i = 0; i < n; ++i) {
      x_[i] = std::sin(0.7f * float(i)) * 3.0f + (i % 3 == 0 ? 1e-5f : 0.0f);
      c_[i] = std::cos(0.3f * float(i));
    }
    params_.upload(x_.data(), n);
  }

  float* params() { return params_.data(); }
  float* grads() { return grads_.data(); }

  void compute_gradient() {
    params_.download(x_.data(), n);
    for (std::size_t i = 0; i < n; ++i) {
      float sum = (1.0f + 0.5f * float(i % 7)) * (x_[i] - c_[i]);
      if (i > 0) sum += 0.25f * (x_[i - 1] - c_[i - 1]);
      if (i + 1 < n) sum += 0.25f * (x_[i + 1] - c_[i + 1]);
      g_[i] = sum;
    }
    grads_.upload(g_.data(), n);
  }

  std::vector<float> download(const float* device, std::size_t count) {
    std::vector<float> out(count);
    backend_.to_host(out.data(), device, count * sizeof(float));
    return out;
  }

 private:
  Backend& backend_;
  DeviceBuffer<float> params_, grads_;
  std::vector<float> x_, g_, c_;
};

struct Trajectory {
  std::vector<float> params, state;
};

Trajectory run(Backend& backend, const std::string& name, int steps, float lr) {
  HostGradientProblem p(backend);
  OptimizerConfig config;
  config.name = name;
  config.seed = 5;
  config.hessian_every = 2;
  config.weight_decay = 0.01f;
  auto opt = Optimizer::create(config, backend, p.params(), p.grads(), p.n);
  for (int s = 0; s < steps; ++s) {
    p.compute_gradient();
    opt->step(lr, [&] { p.compute_gradient(); });
  }
  backend.sync();
  return {p.download(p.params(), p.n), p.download(opt->state(), opt->state_size())};
}

void check_close(const std::vector<float>& cpu, const std::vector<float>& cuda, std::size_t count,
                 double tolerance) {
  REQUIRE(cpu.size() >= count);
  REQUIRE(cuda.size() >= count);
  for (std::size_t i = 0; i < count; ++i) {
    CAPTURE(i);
    CHECK(std::fabs(double(cpu[i]) - cuda[i]) <= tolerance * (1.0 + std::fabs(double(cpu[i]))));
  }
}

struct RequireDevice {
  RequireDevice() {
    if (!cuda_device_available()) chorus_test::skip("no usable CUDA device");
  }
};
const RequireDevice require_device;

}  // namespace

TEST_CASE("every optimizer follows the same trajectory on the CUDA and the CPU backend") {
  auto cpu = make_cpu_backend();
  auto cuda = make_backend("cuda");
  REQUIRE(cuda->name() == "cuda");
  const std::size_t n = HostGradientProblem::n;
  for (const std::string& name : Optimizer::names()) {
    CAPTURE(name);
    const Trajectory a = run(*cpu, name, 20, 0.02f);
    const Trajectory b = run(*cuda, name, 20, 0.02f);
    REQUIRE(a.state.size() == b.state.size());
    check_close(a.params, b.params, n, 1e-4);
    // Persistent state only: SGD's velocity, Adam's m and v, AdaHessian's m, v and D.
    const std::size_t persistent = name == "sgd" ? n : name == "adam" ? 2 * n : 3 * n;
    check_close(a.state, b.state, persistent, 1e-3);
    if (name == "adahessian")  // the probes come from the same counter-based generator
      CHECK(std::memcmp(a.state.data() + 3 * n, b.state.data() + 3 * n, n * sizeof(float)) == 0);
  }
}

TEST_CASE("adahessian on CUDA restores parameters and gradients bit for bit") {
  auto cuda = make_backend("cuda");
  HostGradientProblem p(*cuda);
  OptimizerConfig config;
  config.name = "adahessian";
  auto opt = Optimizer::create(config, *cuda, p.params(), p.grads(), p.n);
  p.compute_gradient();
  const std::vector<float> x0 = p.download(p.params(), p.n), g0 = p.download(p.grads(), p.n);
  opt->step(0.0f, [&] { p.compute_gradient(); });
  CHECK(p.download(p.params(), p.n) == x0);
  CHECK(p.download(p.grads(), p.n) == g0);
}
