#pragma once
// Trainer: one process's training loop over its data shard — batches from a BatchCursor,
// forward/backward on the model, an optimizer step with the scheduled learning rate.
// The peer runtime drives the same Trainer and exchanges model().params() between steps.
//
// Contract: step() takes exactly one optimizer step on the next batch of the shard and
// returns that batch's mean loss (it waits for the backend). evaluate() runs the whole test
// set without touching parameters or optimizer state. Deterministic for a given config on a
// given backend. One thread.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "foundations/backends/backend.h"
#include "foundations/data/batch_cursor.h"
#include "foundations/data/dataset.h"
#include "foundations/models/model.h"
#include "foundations/optim/lr_schedule.h"
#include "foundations/optim/optimizer.h"
#include "foundations/train/training_state.h"

namespace chorus {

struct TrainConfig {
  std::string model = "mlp";
  std::string backend = "cpu";
  int epochs = 5;
  int batch = 64;
  float lr = 0.0f;  // 0: the optimizer's default (Optimizer::default_lr)
  float min_lr = 0.0f;
  std::string decay = "cosine";
  std::int64_t warmup_steps = 100;
  std::int64_t step_every = 0;  // step decay period (0: one epoch)
  float gamma = 0.1f;
  OptimizerConfig optimizer;
  std::uint64_t seed = 1;
  int shard_index = 0, shard_count = 1;
};

struct StepResult {
  float loss = 0.0f;
  int samples = 0;
  float lr = 0.0f;
};

class Trainer {
 public:
  // train/test must outlive the Trainer. Throws UserError on bad configuration.
  Trainer(const TrainConfig& config, const Dataset& train, const Dataset& test);
  ~Trainer();

  // `before_update`, if given, runs after the batch's gradients are computed and before the
  // optimizer uses them (all-reduce SGD averages gradients there).
  StepResult step(const std::function<void()>& before_update = {});
  double evaluate();  // test-set accuracy in [0,1]

  // Re-deals the data: this process now trains shard `index` of `count`, at the same
  // fraction of its current epoch. The learning-rate schedule is re-fitted so the remaining
  // epochs of the new shard end where config().epochs ends.
  void reshard(int index, int count);
  // Epochs completed over this process's shard (fractional).
  double progress() const;
  bool finished() const { return progress() >= config_.epochs; }

  // The whole state (parameters, optimizer state, step, data position) and its restore.
  // restore() throws UserError if the state belongs to another model or optimizer. A state
  // captured on another shard (another peer's, or this peer's before a re-deal) resumes at the
  // same fraction of the same epoch of this one.
  TrainingState capture();
  void restore(const TrainingState& state);

  const TrainConfig& config() const { return config_; }
  Backend& backend() { return *backend_; }
  Model& model() { return *model_; }
  Optimizer& optimizer() { return *optimizer_; }
  BatchCursor& cursor() { return cursor_; }
  const LrSchedule& schedule() const { return schedule_; }
  std::int64_t steps_done() const { return optimizer_->steps(); }
  std::int64_t steps_per_epoch() const { return steps_per_epoch_; }
  std::int64_t total_steps() const { return steps_per_epoch_ * config_.epochs; }


 private:
  void upload_batch(const std::vector<std::uint32_t>& indices, const Dataset& data);
  // Where a state's data position falls in this process's shard.
  std::uint64_t offset_for(const TrainingState& s) const;
  void fit_schedule();

  TrainConfig config_;
  const Dataset& train_;
  const Dataset& test_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Optimizer> optimizer_;
  BatchCursor cursor_;
  LrSchedule schedule_;
  std::int64_t steps_per_epoch_ = 0;
  std::vector<float> host_x_;
  std::vector<std::int32_t> host_y_;
  DeviceBuffer<float> x_;
  DeviceBuffer<std::int32_t> y_;
};

}  // namespace chorus
