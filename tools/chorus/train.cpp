// `chorus train`: one process, no network — the reference every swarm is compared against.
#include <fmt/format.h>

#include <chrono>
#include <cmath>

#include "foundations/base/error.h"
#include "foundations/base/progress.h"
#include "foundations/data/dataset.h"
#include "foundations/train/run_log.h"
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

  double loss_avg = 0;
  double last_acc = -1;
  double train_seconds = 0;  // excludes evaluation
  std::int64_t window_samples = 0;
  double window_seconds = 0;
  const auto run_start = Clock::now();
  for (std::int64_t s = 0; s < total; ++s) {
    const auto t0 = Clock::now();
    const StepResult r = trainer.step();
    const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    train_seconds += dt;
    window_seconds += dt;
    window_samples += r.samples;
    if (!std::isfinite(r.loss))
      throw UserError(fmt::format("training diverged: the loss is {} at step {}; lower --lr (now {})",
                                  r.loss, s + 1, c.lr));
    loss_avg = s == 0 ? r.loss : 0.98 * loss_avg + 0.02 * r.loss;

    const std::int64_t done = s + 1;
    const bool epoch_end = done % per_epoch == 0;
    const bool eval = done == total || (o.eval_every > 0 ? done % o.eval_every == 0 : epoch_end);
    std::optional<double> acc;
    if (eval) {
      acc = trainer.evaluate();
      last_acc = *acc;
      progress.note(fmt::format("epoch {:.2f}: loss {:.4f}, test accuracy {:.4f}",
                                static_cast<double>(done) / per_epoch, loss_avg, *acc));
    }
    if (done % o.log_every == 0 || eval) {
      StepRecord rec;
      rec.step = done;
      rec.epoch = trainer.cursor().epoch();
      rec.loss = r.loss;
      rec.samples_per_s = window_seconds > 0 ? window_samples / window_seconds : 0;
      rec.test_acc = acc;
      rec.extra["lr"] = r.lr;
      log.step(rec);
      window_samples = 0;
      window_seconds = 0;
    }
    progress.update(done, fmt::format("epoch {}/{} loss {:.4f}{} {:.0f} samples/s",
                                      std::min<std::int64_t>(done / per_epoch + 1, c.epochs),
                                      c.epochs, loss_avg,
                                      last_acc >= 0 ? fmt::format(" acc {:.4f}", last_acc) : "",
                                      static_cast<double>(done) * c.batch / train_seconds));
  }
  const double wall = std::chrono::duration<double>(Clock::now() - run_start).count();
  progress.finish(fmt::format("loss {:.4f} acc {:.4f}", loss_avg, last_acc));
  log.done(last_acc, {{"steps", total}, {"wall_s", wall}, {"train_s", train_seconds}});
  fmt::print("final test accuracy {:.4f} after {} epochs ({} steps, {:.1f} s, {:.0f} samples/s)\n",
             last_acc, c.epochs, total, wall, static_cast<double>(total) * c.batch / train_seconds);
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
