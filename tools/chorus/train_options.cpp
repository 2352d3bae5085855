#include "tools/chorus/train_options.h"

#include <fmt/format.h>

#include "chorus_config.h"
#include "foundations/backends/backend_registry.h"
#include "foundations/models/model_registry.h"
#include "foundations/optim/optimizer_registry.h"

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
      ->capture_default_str();
  app.add_option("--batch", c.batch, "Samples per step")->capture_default_str();
  app.add_option("--optimizer", c.optimizer.name, "Optimizer: " + described(optimizer_registry()))
      ->check(CLI::IsMember(optimizer_registry().names()))
      ->capture_default_str();
  std::string lrs;
  for (const auto& r : optimizer_registry().records()) lrs += fmt::format("{}{} {}", lrs.empty() ? "" : ", ", r.name, r.default_lr);
  app.add_option("--lr", c.lr, "Peak learning rate (default: the optimizer's, " + lrs + ")");
  app.add_option("--min-lr", c.min_lr, "Learning rate at the end of cosine decay")
      ->capture_default_str();
  app.add_option("--decay", c.decay, "Learning-rate decay after warm-up: cosine, step or constant")
      ->capture_default_str();
  app.add_option("--warmup", c.warmup_steps, "Warm-up steps (linear ramp to --lr)")
      ->capture_default_str();
  app.add_option("--step-every", c.step_every, "Step decay period in steps (default: one epoch)");
  app.add_option("--gamma", c.gamma, "Step decay factor")->capture_default_str();
  app.add_option("--momentum", c.optimizer.momentum, "SGD momentum")->capture_default_str();
  app.add_flag("--nesterov", c.optimizer.nesterov, "Nesterov momentum for sgd");
  app.add_option("--weight-decay", c.optimizer.weight_decay, "Weight decay (decoupled for adam)")
      ->capture_default_str();
  app.add_option("--hessian-every", c.optimizer.hessian_every,
                 "AdaHessian: refresh the Hessian estimate every N steps")
      ->capture_default_str();
  app.add_option("--seed", c.seed, "Seed of initialisation, sharding and shuffling")
      ->capture_default_str();
  app.add_option("--data", o.data_dir, "Fashion-MNIST directory (IDX .gz files)")
      ->capture_default_str();
  app.add_option("--log", o.log_path, "Write JSON lines (steps, evaluations, events) to FILE");
  app.add_option("--log-every", o.log_every, "Steps between logged step lines")
      ->capture_default_str();
  app.add_option("--eval-every", o.eval_every,
                 "Steps between test evaluations (default: after each epoch)");
}

}  // namespace chorus::tools
