#pragma once
// StepDriver: the training loop of one process, run by `chorus train` and by every peer. It
// takes Trainer steps until the trainer has finished its epochs, a step limit is reached or a
// hook asks to stop, and for each step:
//   - times it (seconds in steps, not in evaluations; samples per second over a window),
//   - refuses a non-finite loss (UserError "training diverged ...: lower --lr"),
//   - evaluates on the test set after each epoch, or every eval_every steps, and (with
//     evaluate_at_end) after the last step,
//   - writes a step record to the RunLog every log_every steps and at each evaluation,
//   - calls the hooks around it (a peer's strategy and membership, checkpoints, a display).
//
// Blocking: run() returns when training stops; it blocks as long as the steps and the hooks do.
// Threading: run() and every hook run on the calling (training) thread.
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>

#include "foundations/train/run_log.h"
#include "foundations/train/trainer.h"

namespace chorus {

// One finished step, as the hooks see it.
struct StepOutcome {
  std::int64_t step = 0;    // optimizer steps taken, this one included
  StepResult result;
  double seconds = 0;       // the step's wall time (with any stretch)
  double train_seconds = 0; // the run's time in steps so far, this one included
  std::optional<double> test_accuracy;  // when evaluated after this step
};

struct StepHooks {
  // Before each step, e.g. to follow the membership view (which may re-deal the data).
  std::function<void()> before_step;
  // Inside the step, between backward and the optimizer: the gradients of step `step` are in
  // the model (all-reduce SGD averages them here).
  std::function<void(std::int64_t step)> before_update;
  // After the optimizer took step `step`: exchanges that replace the parameters.
  std::function<void(std::int64_t step)> after_update;
  // After each step with its outcome: checkpoints, progress display.
  std::function<void(const StepOutcome&)> after_step;
  // Whether to stop before the next step (a stop signal).
  std::function<bool()> stop;
  // Fields added to each step record (a peer's id, view, bytes sent…).
  std::function<nlohmann::json()> record_fields;
  // Fault injection: called after each step with the CPU seconds its computation took (the
  // thread's CPU time in the step, without the time in before_update and after_update);
  // returns the seconds it added (a sleep, emulating a slower machine), counted in the step's
  // time. The thread's CPU time is read only when this hook is set.
  std::function<double(double compute_cpu_s)> stretch;
};

struct StepDriverConfig {
  int log_every = 50;              // steps between step records
  int eval_every = 0;              // steps between evaluations; 0: after each epoch
  bool evaluate_at_end = true;     // also evaluate after the last step (unless just done)
  bool record_first_step = false;  // a record for the first step of the run too
  std::int64_t max_steps = 0;      // steps this run takes at most; 0: until finished
};

class StepDriver {
 public:
  StepDriver(Trainer& trainer, RunLog& log, StepDriverConfig config, StepHooks hooks);

  // Runs the loop; returns the steps taken in this run.
  std::int64_t run();

  std::int64_t steps_taken() const { return steps_; }
  double train_seconds() const { return train_seconds_; }
  // The latest test accuracy evaluated by the loop, if any.
  std::optional<double> last_accuracy() const { return last_accuracy_; }

 private:
  bool evaluation_due(std::int64_t epoch_before) const;

  Trainer& trainer_;
  RunLog& log_;
  const StepDriverConfig config_;
  const StepHooks hooks_;
  std::int64_t steps_ = 0;
  double train_seconds_ = 0;
  std::optional<double> last_accuracy_;
  double window_seconds_ = 0;
  std::int64_t window_samples_ = 0;
};

}  // namespace chorus
