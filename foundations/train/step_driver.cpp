#include "foundations/train/step_driver.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <ctime>

#include "foundations/base/error.h"

namespace chorus {
namespace {

using Clock = std::chrono::steady_clock;

// CPU time the calling thread has used, in seconds.
double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

}  // namespace

StepDriver::StepDriver(Trainer& trainer, RunLog& log, StepDriverConfig config, StepHooks hooks)
    : trainer_(trainer), log_(log), config_(config), hooks_(std::move(hooks)) {}

bool StepDriver::evaluation_due(std::int64_t epoch_before) const {
  if (config_.eval_every > 0 && trainer_.steps_done() % config_.eval_every == 0) return true;
  if (config_.eval_every <= 0 && trainer_.cursor().epoch() > epoch_before) return true;  // an epoch ended
  return config_.evaluate_at_end && trainer_.finished();
}

std::int64_t StepDriver::run() {
  const bool stretched = static_cast<bool>(hooks_.stretch);
  const auto cpu = [stretched] { return stretched ? thread_cpu_seconds() : 0.0; };
  while (!trainer_.finished() && (config_.max_steps == 0 || steps_ < config_.max_steps) &&
         !(hooks_.stop && hooks_.stop())) {
    if (hooks_.before_step) hooks_.before_step();
    const std::int64_t epoch_before = trainer_.cursor().epoch();
    const std::int64_t next = trainer_.steps_done() + 1;

    const auto t0 = Clock::now();
    const double cpu0 = cpu();
    double hook_cpu = 0;  // CPU time in the exchange hooks: not the step's computation
    const StepResult r = trainer_.step([&] {
      if (!hooks_.before_update) return;
      const double h0 = cpu();
      hooks_.before_update(next);
      hook_cpu += cpu() - h0;
    });
    if (hooks_.after_update) {
      const double h0 = cpu();
      hooks_.after_update(trainer_.steps_done());
      hook_cpu += cpu() - h0;
    }
    double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    if (stretched) dt += hooks_.stretch(std::max(0.0, thread_cpu_seconds() - cpu0 - hook_cpu));

    ++steps_;
    train_seconds_ += dt;
    window_seconds_ += dt;
    window_samples_ += r.samples;
    if (!std::isfinite(r.loss))
      throw UserError(fmt::format("training diverged: the loss is {} at step {}; lower --lr (now {})", r.loss,
                                  trainer_.steps_done(), trainer_.config().lr));

    StepOutcome outcome;
    outcome.step = trainer_.steps_done();
    outcome.result = r;
    outcome.seconds = dt;
    outcome.train_seconds = train_seconds_;
    if (evaluation_due(epoch_before)) last_accuracy_ = outcome.test_accuracy = trainer_.evaluate();

    const bool periodic = config_.log_every > 0 && outcome.step % config_.log_every == 0;
    if (periodic || outcome.test_accuracy || (config_.record_first_step && steps_ == 1)) {
      StepRecord rec;
      rec.step = outcome.step;
      rec.epoch = trainer_.cursor().epoch();
      rec.loss = r.loss;
      rec.samples_per_s = window_seconds_ > 0 ? static_cast<double>(window_samples_) / window_seconds_ : 0;
      rec.test_acc = outcome.test_accuracy;
      rec.extra = hooks_.record_fields ? hooks_.record_fields() : nlohmann::json::object();
      rec.extra["lr"] = r.lr;
      log_.step(rec);
      window_seconds_ = 0;
      window_samples_ = 0;
    }
    if (hooks_.after_step) hooks_.after_step(outcome);
  }
  return steps_;
}

}  // namespace chorus
