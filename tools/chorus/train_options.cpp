#include "tools/chorus/train_options.h"

#include <fmt/format.h>

#include <filesystem>

#include "chorus_config.h"
#include "foundations/backends/backend_registry.h"
#include "foundations/base/error.h"
#include "foundations/data/dataset.h"
#include "foundations/models/model_registry.h"
#include "foundations/optim/lr_schedule.h"
#include "foundations/optim/optimizer.h"
#include "foundations/optim/optimizer_registry.h"
#include "tools/chorus/option_checks.h"

namespace chorus::tools {

namespace {
// "a (what a is), b (what b is)": a registry's records for a help text.
template <typename Record>
std::string described(const Registry<Record>& registry) {
  std::string out;
  for (const Record& r : registry.records()) out += fmt::format("{}{} ({})", out.empty() ? "" : ", ", r.name, r.description);
  return out;
}
}  // namespace

void add_train_options(CLI::App& app, TrainOptions& o) {
  TrainConfig& c = o.config;
  o.data_dir = CHORUS_DEFAULT_DATA_DIR;
  app.add_option("--model", c.model, "Model to train: " + described(model_registry()))
      ->check(CLI::IsMember(model_registry().names()))
      ->capture_default_str();
  app.add_option("--backend", c.backend, "Where to compute: " + described(backend_registry()))
      ->check(CLI::IsMember(backend_registry().names()))
      ->capture_default_str();
  app.add_option("--epochs", c.epochs, "Passes over this process's data shard")
      ->check(at_least(1))
      ->capture_default_str();
  app.add_option("--batch", c.batch, "Samples per step")->check(at_least(1))->capture_default_str();
  app.add_option("--optimizer", c.optimizer.name, "Optimizer: " + described(optimizer_registry()))
      ->check(CLI::IsMember(optimizer_registry().names()))
      ->capture_default_str();
  std::string lrs;
  for (const auto& r : optimizer_registry().records())
    lrs += fmt::format("{}{} {}", lrs.empty() ? "" : ", ", r.name, r.default_lr);
  app.add_option("--lr", c.lr, "Peak learning rate (default: the optimizer's, " + lrs + ")")->check(at_least(0.0f));
  app.add_option("--min-lr", c.min_lr, "Learning rate at the end of cosine decay")
      ->check(at_least(0.0f))
      ->capture_default_str();
  app.add_option("--decay", c.decay, "Learning-rate decay after warm-up: cosine, step or constant")
      ->check(checked_by([](const std::string& name) { LrSchedule::parse_decay(name); }))
      ->capture_default_str();
  app.add_option("--warmup", c.warmup_steps, "Warm-up steps (linear ramp to --lr)")
      ->check(at_least(std::int64_t{0}))
      ->capture_default_str();
  app.add_option("--step-every", c.step_every, "Step decay period in steps (default: one epoch)")
      ->check(at_least(std::int64_t{0}));
  app.add_option("--gamma", c.gamma, "Step decay factor")
      ->check(in_range(0.0f, 1.0f, Ends::open_low))
      ->capture_default_str();
  app.add_option("--momentum", c.optimizer.momentum, "SGD momentum")
      ->check(in_range(0.0f, 1.0f, Ends::open_high))
      ->capture_default_str();
  app.add_flag("--nesterov", c.optimizer.nesterov, "Nesterov momentum for sgd");
  app.add_option("--weight-decay", c.optimizer.weight_decay, "Weight decay (decoupled for adam)")
      ->check(at_least(0.0f))
      ->capture_default_str();
  app.add_option("--hessian-every", c.optimizer.hessian_every,
                 "AdaHessian: refresh the Hessian estimate every N steps")
      ->check(at_least(1))
      ->capture_default_str();
  app.add_option("--seed", c.seed, "Seed of initialisation, sharding and shuffling")
      ->capture_default_str();
  app.add_option("--data", o.data_dir, "Fashion-MNIST directory (IDX .gz files)")
      ->capture_default_str();
  app.add_option("--log", o.log_path, "Write JSON lines (steps, evaluations, events) to FILE");
  app.add_option("--log-every", o.log_every, "Steps between logged step lines")
      ->check(at_least(1))
      ->capture_default_str();
  app.add_option("--eval-every", o.eval_every,
                 "Steps between test evaluations (default: after each epoch)")
      ->check(at_least(0));
}

void check_train_options(const TrainOptions& o) {
  const TrainConfig& c = o.config;
  check_backend(c.backend);
  Optimizer::check(c.optimizer);
  LrSchedule schedule;  // the trainer's, with the lengths that only the data fixes set to 1
  schedule.base_lr = c.lr > 0 ? c.lr : Optimizer::default_lr(c.optimizer.name);
  schedule.min_lr = c.min_lr;
  schedule.warmup_steps = c.warmup_steps;
  schedule.decay = LrSchedule::parse_decay(c.decay);
  schedule.gamma = c.gamma;
  schedule.total_steps = 1;
  schedule.step_every = c.step_every > 0 ? c.step_every : 1;
  schedule.validate();
}

void check_data(const TrainOptions& o) {
  idx_split_size(o.data_dir, Split::train);
  idx_split_size(o.data_dir, Split::test);
}

void check_log_path(const TrainOptions& o) {
  if (o.log_path.empty()) return;
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(o.log_path).parent_path();
  std::error_code ec;
  if (!dir.empty() && !fs::is_directory(dir, ec))
    throw UserError(fmt::format("--log {}: the directory {} does not exist; create it or choose another path",
                                o.log_path, dir.string()));
}

}  // namespace chorus::tools
