// Training end to end: the JSON log schema, and the accuracy the single-process reference must
// reach (the dataset's benchmark table: MLP 0.883; 2 conv + pooling 0.916).
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "foundations/data/dataset.h"
#include "foundations/train/run_log.h"
#include "foundations/train/trainer.h"
#include "tests/json_lines.h"
#include "tests/test_util.h"

using chorus_test::run_logged;
using nlohmann::json;

namespace {

// 1200 blank 28x28 samples, labels 0..9 in turn: enough to count steps and epochs.
chorus::Dataset tiny_dataset() {
  chorus::Dataset data;
  data.rows = data.cols = 28;
  data.labels.resize(1200);
  data.images.assign(data.labels.size() * data.sample_floats(), 0.1f);
  for (std::size_t i = 0; i < data.labels.size(); ++i) data.labels[i] = static_cast<std::int32_t>(i % 10);
  return data;
}

// Two epochs of shard `index` of `count` of tiny_dataset(), 10 samples a step.
chorus::TrainConfig tiny_config(int index, int count) {
  chorus::TrainConfig c;
  c.epochs = 2;
  c.batch = 10;
  c.shard_index = index;
  c.shard_count = count;
  return c;
}

// Steps until the trainer has finished its epochs (at most 1000); how many it took.
int steps_to_finish(chorus::Trainer& trainer) {
  int steps = 0;
  while (!trainer.finished() && steps < 1000) {
    trainer.step();
    ++steps;
  }
  return steps;
}
}  // namespace

TEST_CASE("RunLog writes the step, event and done schema as JSON lines") {
  chorus_test::TempDir dir;
  {
    chorus::RunLog log(dir / "log.jsonl");
    chorus::StepRecord r;
    r.step = 10;
    r.epoch = 1;
    r.loss = 0.5;
    r.samples_per_s = 1234;
    r.extra["peer"] = "p1";
    log.step(r);
    r.test_acc = 0.75;
    log.step(r);
    log.event("checkpoint", {{"step", 10}});
    log.done(0.8);
  }
  const auto lines = chorus_test::json_lines(dir / "log.jsonl", /*finished=*/true);
  REQUIRE(lines.size() == 4);
  CHECK(lines[0]["step"] == 10);
  CHECK(lines[0]["loss"] == 0.5);
  CHECK(lines[0]["peer"] == "p1");
  CHECK(lines[0].contains("t"));
  CHECK_FALSE(lines[0].contains("test_acc"));
  CHECK(lines[1]["test_acc"] == 0.75);
  CHECK(lines[2]["event"] == "checkpoint");
  CHECK(lines[3]["event"] == "done");
  CHECK(lines[3]["final_test_acc"] == 0.8);
  CHECK(lines[3]["t"].get<double>() >= lines[0]["t"].get<double>());
}

TEST_CASE("chorus train --model mlp --epochs 5 reaches the benchmark accuracy (>= 0.885)") {
  chorus_test::TempDir dir;
  const auto lines = run_logged("train --model mlp --epochs 5", dir / "mlp.jsonl");
  REQUIRE(lines.size() > 5);
  const json& done = lines.back();
  CHECK(done["event"] == "done");
  CHECK(done["final_test_acc"].get<double>() >= 0.885);
  int evals = 0;
  double previous_t = 0;
  for (const auto& l : lines) {
    CHECK(l["t"].get<double>() >= previous_t);
    previous_t = l["t"].get<double>();
    if (l.contains("event")) continue;
    for (const char* f : {"step", "epoch", "loss", "samples_per_s"}) CHECK(l.contains(f));
    if (l.contains("test_acc")) ++evals;
  }
  CHECK(evals == 5);  // once per epoch
}

TEST_CASE("chorus train --model cnn --epochs 4 reaches the benchmark accuracy (>= 0.91)") {
  chorus_test::TempDir dir;
  const auto lines = run_logged("train --model cnn --epochs 4", dir / "cnn.jsonl");
  REQUIRE_FALSE(lines.empty());
  CHECK(lines.back()["final_test_acc"].get<double>() >= 0.91);
}

TEST_CASE("a re-deal keeps the epoch's progress and re-fits the schedule to the new shard") {
  const chorus::Dataset data = tiny_dataset();
  chorus::Trainer trainer(tiny_config(0, 4), data, data);  // 300 samples: 30 steps an epoch
  for (int i = 0; i < 45; ++i) trainer.step();  // 1.5 epochs
  CHECK(trainer.progress() == doctest::Approx(1.5));
  trainer.reshard(1, 3);  // 400 samples: 40 steps an epoch
  CHECK(trainer.cursor().epoch() == 1);
  CHECK(trainer.progress() == doctest::Approx(1.5));
  // What is left: half an epoch of the new shard, not a whole one.
  CHECK(trainer.schedule().total_steps == 45 + 20);
  CHECK(steps_to_finish(trainer) == 20);
}

TEST_CASE("a state from another shard resumes at the same fraction of its epoch") {
  const chorus::Dataset data = tiny_dataset();
  chorus::Trainer server(tiny_config(0, 3), data, data);  // 400 samples: 40 steps an epoch
  for (int i = 0; i < 50; ++i) server.step();  // 1.25 epochs
  const chorus::TrainingState s = server.capture();
  CHECK(s.shard_size == 400);
  // A joiner with a quarter of the data takes the same step, epoch and fraction of it.
  chorus::Trainer joiner(tiny_config(3, 4), data, data);  // 300 samples: 30 steps an epoch
  joiner.restore(s);
  CHECK(joiner.steps_done() == 50);
  CHECK(joiner.progress() == doctest::Approx(1.25));
  CHECK(steps_to_finish(joiner) == 23);  // three quarters of a 30-step epoch, in whole batches
  // The same shard resumes exactly where it was.
  chorus::Trainer again(server.config(), data, data);
  again.restore(s);
  CHECK(again.cursor().offset() == server.cursor().offset());
}
