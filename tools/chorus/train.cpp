// `chorus train`: one process, no network — the reference every swarm is compared against.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "foundations/base/progress.h"
#include "foundations/data/dataset.h"
#include "foundations/train/run_log.h"
#include "foundations/train/step_driver.h"
#include "foundations/train/trainer.h"
#include "tools/chorus/command.h"
#include "tools/chorus/train_options.h"

namespace chorus::tools {
namespace {

using Clock = std::chrono::steady_clock;

int run_train(const TrainOptions& o) {
  check_train_options(o);
  check_log_path(o);
  const Dataset train = load_idx_dataset(o.data_dir, Split::train);
  const Dataset test = load_idx_dataset(o.data_dir, Split::test);
  Trainer trainer(o.config, train, test);
  const TrainConfig& c = trainer.config();
  RunLog log(o.log_path);
  log.event("start", {{"model", c.model},
                      {"backend", trainer.backend().name()},
                      {"optimizer", c.optimizer.name},
                      {"lr", c.lr},
                      {"batch", c.batch},
                      {"epochs", c.epochs},
                      {"params", trainer.model().layout().count()},
                      {"seed", c.seed}});

  const std::int64_t total = trainer.total_steps();
  const std::int64_t per_epoch = trainer.steps_per_epoch();
  Progress progress(fmt::format("train {} ({})", c.model, trainer.backend().name()), total);
  progress.note(fmt::format("training {} on {} samples, {} steps of {} per epoch, {} epochs, {} {} lr {}",
                            c.model, trainer.cursor().shard_size(), per_epoch, c.batch, c.epochs,
                            trainer.backend().name(), c.optimizer.name, c.lr));

  double loss_avg = 0;  // smoothed, for the display
  double last_acc = -1;
  StepDriverConfig dc;
  dc.log_every = o.log_every;
  dc.eval_every = o.eval_every;
  StepHooks hooks;
  hooks.after_step = [&](const StepOutcome& s) {
    loss_avg = s.step == 1 ? s.result.loss : 0.98 * loss_avg + 0.02 * s.result.loss;
    if (s.test_accuracy) {
      last_acc = *s.test_accuracy;
      progress.note(fmt::format("epoch {:.2f}: loss {:.4f}, test accuracy {:.4f}",
                                static_cast<double>(s.step) / per_epoch, loss_avg, last_acc));
    }
    progress.update(s.step, fmt::format("epoch {}/{} loss {:.4f}{} {:.0f} samples/s",
                                        std::min<std::int64_t>(s.step / per_epoch + 1, c.epochs), c.epochs, loss_avg,
                                        last_acc >= 0 ? fmt::format(" acc {:.4f}", last_acc) : "",
                                        static_cast<double>(s.step) * c.batch / s.train_seconds));
  };
  StepDriver loop(trainer, log, dc, hooks);

  const auto run_start = Clock::now();
  loop.run();
  const double wall = std::chrono::duration<double>(Clock::now() - run_start).count();
  progress.finish(fmt::format("loss {:.4f} acc {:.4f}", loss_avg, last_acc));
  log.done(last_acc, {{"steps", total}, {"wall_s", wall}, {"train_s", loop.train_seconds()}});
  fmt::print("final test accuracy {:.4f} after {} epochs ({} steps, {:.1f} s, {:.0f} samples/s)\n", last_acc, c.epochs,
             total, wall, static_cast<double>(total) * c.batch / loop.train_seconds());
  return 0;
}

const bool registered = register_command(
    {"train", "Train a model in one process (no network): the single-process reference",
     [](CLI::App& app) -> Action {
       auto options = std::make_shared<TrainOptions>();
       add_train_options(app, *options);
       return [options] { return run_train(*options); };
     }});

}  // namespace
}  // namespace chorus::tools
