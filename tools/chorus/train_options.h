#pragma once
// The training flags shared by `chorus train`, `chorus peer` and `chorus swarm`.
#include <CLI/CLI.hpp>
#include <string>

#include "foundations/train/trainer.h"

namespace chorus::tools {

struct TrainOptions {
  TrainConfig config;
  std::string data_dir;
  std::string log_path;
  int log_every = 50;     // steps between JSON step lines
  int eval_every = 0;     // steps between test evaluations (0: once per epoch)
};

void add_train_options(CLI::App& app, TrainOptions& options);

}  // namespace chorus::tools
