#pragma once
// The model registry (foundations/base/registry.h): every model chorus can train, by name —
// its input shape and the layers it is built from. Each model is a record added by the file
// that defines it (model_zoo.cpp); Model::create builds one, `--model` lists them.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "foundations/base/registry.h"
#include "foundations/models/layers.h"

namespace chorus {

struct ModelRecord {
  std::string name;
  std::string description;  // the architecture, for --help
  int order = 0;
  SampleShape input;
  std::function<std::vector<std::unique_ptr<Layer>>()> layers;
};

Registry<ModelRecord>& model_registry();

}  // namespace chorus
