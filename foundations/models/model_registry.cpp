// The model registry, and Model::create and Model::names on it.
#include "foundations/models/model_registry.h"

#include "foundations/models/model.h"

namespace chorus {

Registry<ModelRecord>& model_registry() {
  static Registry<ModelRecord> registry("model");
  return registry;
}

std::vector<std::string> Model::names() { return model_registry().names(); }

std::unique_ptr<Model> Model::create(const std::string& name, Backend& backend, int max_batch,
                                     std::uint64_t seed) {
  const ModelRecord& record = model_registry().get(name);
  return std::make_unique<Model>(name, backend, record.input, record.layers(), max_batch, seed);
}

}  // namespace chorus
