// StepDriver: the one training loop of `chorus train` and the peer — its hooks in order, its
// evaluation cadence and records, the stop conditions, the divergence check and the stretch
// of fault injection — on a small synthetic data set (fast, no files).
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "foundations/base/error.h"
#include "foundations/train/step_driver.h"
#include "tests/test_util.h"

using namespace chorus;

namespace {

// n samples of 28 x 28 in two classes, noise around -0.5 or +0.5: learnable in a few steps.
Dataset synthetic(std::size_t n, std::uint32_t seed) {
  Dataset d;
  d.rows = d.cols = 28;
  d.images.resize(n * 28 * 28);
  d.labels.resize(n);
  std::uint32_t s = seed;
  for (std::size_t i = 0; i < n; ++i) {
    d.labels[i] = static_cast<std::int32_t>(i % 2);
    for (std::size_t k = 0; k < 28 * 28; ++k) {
      s = s * 1664525u + 1013904223u;
      d.images[i * 28 * 28 + k] = static_cast<float>(s >> 8) / 16777216.0f - 0.5f + (i % 2 ? 0.5f : -0.5f);
    }
  }
  return d;
}

TrainConfig small_config() {
  TrainConfig c;
  c.epochs = 3;
  c.batch = 32;
  c.warmup_steps = 2;
  return c;
}

std::vector<nlohmann::json> read_lines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

}  // namespace

TEST_CASE("the driver runs every epoch, calls the hooks in order and evaluates after each epoch and at the end") {
  const Dataset train = synthetic(320, 1), test = synthetic(100, 2);
  Trainer trainer(small_config(), train, test);  // 10 steps per epoch
  chorus_test::TempDir dir("chorus-driver");
  RunLog log(dir / "log.jsonl");
  std::vector<std::string> calls;
  std::vector<StepOutcome> outcomes;
  StepHooks hooks;
  hooks.before_step = [&] { calls.push_back("before_step"); };
  hooks.before_update = [&](std::int64_t step) { calls.push_back("before_update " + std::to_string(step)); };
  hooks.after_update = [&](std::int64_t step) { calls.push_back("after_update " + std::to_string(step)); };
  hooks.after_step = [&](const StepOutcome& s) {
    calls.push_back("after_step");
    outcomes.push_back(s);
  };
  hooks.record_fields = [] { return nlohmann::json{{"peer", "p"}}; };
  StepDriverConfig config;
  config.log_every = 4;
  StepDriver driver(trainer, log, config, hooks);
  CHECK(driver.run() == 30);
  CHECK(trainer.finished());
  REQUIRE(calls.size() == 4 * 30);
  CHECK(calls[0] == "before_step");
  CHECK(calls[1] == "before_update 1");
  CHECK(calls[2] == "after_update 1");
  CHECK(calls[3] == "after_step");
  CHECK(calls[4 * 29 + 1] == "before_update 30");

  // Evaluated after each epoch (steps 10, 20, 30), nowhere else.
  std::vector<std::int64_t> evaluated;
  for (const auto& s : outcomes)
    if (s.test_accuracy) evaluated.push_back(s.step);
  CHECK(evaluated == std::vector<std::int64_t>{10, 20, 30});
  CHECK(driver.last_accuracy() == outcomes.back().test_accuracy);
  CHECK(*driver.last_accuracy() > 0.6);  // it learned something
  CHECK(outcomes.back().train_seconds == doctest::Approx(driver.train_seconds()));

  // A record every 4 steps and at each evaluation, with the hook's fields and the lr.
  std::vector<std::int64_t> recorded;
  for (const auto& j : read_lines(dir / "log.jsonl")) {
    recorded.push_back(j.at("step").get<std::int64_t>());
    CHECK(j.at("peer") == "p");
    CHECK(j.contains("lr"));
    CHECK(j.contains("samples_per_s"));
  }
  CHECK(recorded == std::vector<std::int64_t>{4, 8, 10, 12, 16, 20, 24, 28, 30});
}

TEST_CASE("eval_every, a step limit, a stop hook and the first step's record") {
  const Dataset train = synthetic(320, 1), test = synthetic(100, 2);
  {
    Trainer trainer(small_config(), train, test);
    chorus_test::TempDir dir("chorus-driver");
    RunLog log(dir / "log.jsonl");
    StepDriverConfig config;
    config.log_every = 1000;
    config.eval_every = 7;
    config.evaluate_at_end = false;
    config.record_first_step = true;
    config.max_steps = 15;
    std::vector<std::int64_t> evaluated;
    StepHooks hooks;
    hooks.after_step = [&](const StepOutcome& s) {
      if (s.test_accuracy) evaluated.push_back(s.step);
    };
    CHECK(StepDriver(trainer, log, config, hooks).run() == 15);
    CHECK(evaluated == std::vector<std::int64_t>{7, 14});
    std::vector<std::int64_t> recorded;
    for (const auto& j : read_lines(dir / "log.jsonl")) recorded.push_back(j.at("step").get<std::int64_t>());
    CHECK(recorded == std::vector<std::int64_t>{1, 7, 14});
  }
  {
    Trainer trainer(small_config(), train, test);
    RunLog log;
    int steps = 0;
    StepHooks hooks;
    hooks.after_step = [&](const StepOutcome&) { ++steps; };
    hooks.stop = [&] { return steps >= 5; };
    CHECK(StepDriver(trainer, log, StepDriverConfig{}, hooks).run() == 5);
  }
}

TEST_CASE("a non-finite loss stops training with the user's error, and a stretch counts in the step's time") {
  const Dataset train = synthetic(320, 1), test = synthetic(100, 2);
  {
    TrainConfig c = small_config();
    c.lr = 1e30f;  // diverges at once
    Trainer trainer(c, train, test);
    RunLog log;
    try {
      StepDriver(trainer, log, StepDriverConfig{}, StepHooks{}).run();
      FAIL("no error for a diverged run");
    } catch (const UserError& e) {
      CHECK(std::string(e.what()).rfind("training diverged: the loss is ", 0) == 0);
      CHECK(std::string(e.what()).find("lower --lr") != std::string::npos);
    }
  }
  {
    Trainer trainer(small_config(), train, test);
    RunLog log;
    StepDriverConfig config;
    config.max_steps = 3;
    std::vector<double> cpu_seconds;
    std::vector<StepOutcome> outcomes;
    StepHooks hooks;
    hooks.stretch = [&](double compute_cpu_s) {
      cpu_seconds.push_back(compute_cpu_s);
      return 10.0;  // as if it had slept 10 s
    };
    hooks.after_step = [&](const StepOutcome& s) { outcomes.push_back(s); };
    StepDriver(trainer, log, config, hooks).run();
    REQUIRE(cpu_seconds.size() == 3);
    for (double s : cpu_seconds) CHECK(s >= 0);
    for (const auto& s : outcomes) CHECK(s.seconds >= 10.0);
  }
}
