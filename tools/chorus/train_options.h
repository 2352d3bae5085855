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

// Adds the training flags to `app`, each value checked against its range as it is parsed.
void add_train_options(CLI::App& app, TrainOptions& options);

// Checks what one flag alone cannot: the optimizer's hyper-parameters together and the
// learning-rate schedule (e.g. --min-lr above --lr), as the trainer would. Reads and writes
// nothing. Throws UserError.
void check_train_options(const TrainOptions& options);

// Checks that the data set in --data has both splits with sound headers (a few bytes of each
// file; the data itself is read by training). Throws UserError naming the file.
void check_data(const TrainOptions& options);

// Checks that --log can be created: its directory exists. Throws UserError.
void check_log_path(const TrainOptions& options);

}  // namespace chorus::tools
