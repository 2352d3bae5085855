#include "tools/chorus/train_options.h"

#include "chorus_config.h"

namespace chorus::tools {

void add_train_options(CLI::App& app, TrainOptions& o) {
  TrainConfig& c = o.config;
  o.data_dir = CHORUS_DEFAULT_DATA_DIR;
  app.add_option("--model", c.model, "Model to train: mlp (784-256-128-10) or cnn (2 conv + pool)")
      ->check(CLI::IsMember({"mlp", "cnn"}))
      ->capture_default_str();
  app.add_option("--backend", c.backend, "Where to compute: cpu, cuda, or auto (CUDA if present)")
      ->capture_default_str();
  app.add_option("--epochs", c.epochs, "Passes over this process's data shard")
      ->capture_default_str();
  app.add_option("--batch", c.batch, "Samples per step")->capture_default_str();
  app.add_option("--optimizer", c.optimizer.name, "sgd (momentum), adam or adahessian")
      ->capture_default_str();
  app.add_option("--lr", c.lr, "Peak learning rate (default: 0.05 for sgd and adahessian, 1e-3 for adam)");
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
