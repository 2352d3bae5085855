// `chorus bench train`: samples/s of a training step (forward, backward, optimizer) per model
// and batch size, with the GFLOP/s the step achieves beside the GFLOP/s of a large GEMM on the
// same backend, so the gap to the machine's limit is visible.
#include <fmt/format.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "foundations/backends/backend.h"
#include "foundations/models/model.h"
#include "foundations/optim/optimizer.h"
#include "tools/chorus/command.h"
#include "tools/chorus/list_option.h"
#include "tools/chorus/option_checks.h"

namespace chorus::tools {
namespace {

using Clock = std::chrono::steady_clock;

struct BenchTrainOptions {
  std::vector<std::string> models = Model::names();  // every registered model
  std::vector<int> batches{64, 256, 1024};
  std::string backend = "cpu";
  std::string optimizer = "sgd";
  double seconds = 2.0;
  int gemm_size = 1024;
  bool json = false;
};

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// GFLOP/s of an n x n x n GEMM on the backend: best of several timed repetitions.
double gemm_gflops(Backend& backend, int n, double budget_s) {
  const std::size_t elems = static_cast<std::size_t>(n) * n;
  std::vector<float> host(elems);
  std::mt19937 rng(1);
  std::normal_distribution<float> dist;
  for (auto& v : host) v = dist(rng);
  DeviceBuffer<float> a(backend, elems), b(backend, elems), c(backend, elems);
  a.upload(host.data(), elems);
  b.upload(host.data(), elems);
  backend.gemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
  backend.sync();
  double best = 1e30;
  const auto start = Clock::now();
  int reps = 0;
  while (reps < 3 || (seconds_since(start) < budget_s && reps < 1000)) {
    const auto t0 = Clock::now();
    backend.gemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    backend.sync();
    best = std::min(best, seconds_since(t0));
    ++reps;
  }
  return 2.0 * n * static_cast<double>(n) * n / best / 1e9;
}

struct StepTiming {
  double samples_per_s = 0;
  double step_gflops = 0;
};

StepTiming time_steps(Backend& backend, const std::string& model_name, int batch,
                      const std::string& optimizer, double budget_s) {
  auto model = Model::create(model_name, backend, batch, 1);
  OptimizerConfig oc;
  oc.name = optimizer;
  auto opt = Optimizer::create(oc, backend, model->params(), model->grads(), model->size());
  const std::size_t sample = model->input_shape().size();
  std::vector<float> x(sample * batch);
  std::vector<std::int32_t> y(batch);
  std::mt19937 rng(7);
  std::normal_distribution<float> dist;
  for (auto& v : x) v = dist(rng);
  for (auto& v : y) v = static_cast<std::int32_t>(rng() % 10);
  DeviceBuffer<float> dx(backend, x.size());
  DeviceBuffer<std::int32_t> dy(backend, y.size());
  dx.upload(x.data(), x.size());
  dy.upload(y.data(), y.size());
  auto one_step = [&] {
    model->train_batch(dx.data(), dy.data(), batch);
    opt->step(0.01f, [&] { model->train_batch(dx.data(), dy.data(), batch); });
  };
  for (int i = 0; i < 3; ++i) one_step();
  backend.sync();
  const auto start = Clock::now();
  long steps = 0;
  while (steps < 5 || seconds_since(start) < budget_s) {
    one_step();
    ++steps;
    if (steps % 8 == 0) backend.sync();
  }
  backend.sync();
  (void)model->last_loss();
  const double elapsed = seconds_since(start);
  StepTiming t;
  t.samples_per_s = static_cast<double>(steps) * batch / elapsed;
  t.step_gflops = t.samples_per_s * model->train_flops_per_sample() / 1e9;
  return t;
}

int run_bench_train(const BenchTrainOptions& o) {
  auto backend = make_backend(o.backend);
  const double gemm = gemm_gflops(*backend, o.gemm_size, o.seconds);
  if (!o.json) {
    fmt::print("chorus bench train: backend {0}, optimizer {1}, reference GEMM {2}x{2}x{2}: {3:.1f} GFLOP/s\n",
               backend->name(), o.optimizer, o.gemm_size, gemm);
    fmt::print("{:<6} {:>6} {:>14} {:>12} {:>12} {:>8}\n", "model", "batch", "samples/s",
               "step GFLOP/s", "GEMM GFLOP/s", "of GEMM");
  }
  for (const auto& m : o.models) {
    for (int b : o.batches) {
      const StepTiming t = time_steps(*backend, m, b, o.optimizer, o.seconds);
      if (o.json) {
        nlohmann::json line = {{"bench", "train"},        {"backend", backend->name()},
                               {"model", m},              {"batch", b},
                               {"samples_per_s", t.samples_per_s},
                               {"step_gflops", t.step_gflops},
                               {"gemm_gflops", gemm}};
        fmt::print("{}\n", line.dump());
      } else {
        fmt::print("{:<6} {:>6} {:>14.0f} {:>12.1f} {:>12.1f} {:>7.0f}%\n", m, b, t.samples_per_s,
                   t.step_gflops, gemm, 100.0 * t.step_gflops / gemm);
      }
      std::fflush(stdout);
    }
  }
  return 0;
}

const bool registered = register_bench(
    {"train", "Samples/s and GFLOP/s of a training step, beside a large GEMM's GFLOP/s",
     [](CLI::App& app) -> Action {
       auto o = std::make_shared<BenchTrainOptions>();
       comma_list(app.add_option("--model", o->models, "Models to measure (mlp, cnn)"))
           ->check(CLI::IsMember({"mlp", "cnn"}))
           ->capture_default_str();
       comma_list(app.add_option("--batch", o->batches, "Batch sizes, comma separated"))
           ->check(at_least(1))
           ->capture_default_str();
       app.add_option("--backend", o->backend, "cpu, cuda or auto")
           ->check(CLI::IsMember({"cpu", "cuda", "auto"}))
           ->capture_default_str();
       app.add_option("--optimizer", o->optimizer, "Optimizer in the timed step")
           ->check(CLI::IsMember(Optimizer::names()))
           ->capture_default_str();
       app.add_option("--seconds", o->seconds, "Time spent per measurement")
           ->check(in_range(0.0, 3600.0, Ends::open_low))
           ->capture_default_str();
       app.add_option("--gemm-size", o->gemm_size, "Size n of the reference n x n x n GEMM")
           ->check(in_range(1, 16384))
           ->capture_default_str();
       app.add_flag("--json", o->json, "One JSON line per measurement instead of a table");
       return [o] { return run_bench_train(*o); };
     }});

}  // namespace
}  // namespace chorus::tools
