#pragma once
// The backend registry (foundations/base/registry.h): every compute backend by name — cpu,
// cuda, and auto (cuda when usable, else cpu). make_backend builds one; --backend lists them.
#include <functional>
#include <memory>
#include <string>

#include "foundations/backends/backend.h"
#include "foundations/base/registry.h"

namespace chorus {

struct BackendRecord {
  std::string name;
  std::string description;
  int order = 0;
  // Throws UserError when the backend cannot run here (no GPU, not compiled in).
  std::function<std::unique_ptr<Backend>()> make;
  // Throws the UserError make() would, without making a backend; none: it always can.
  std::function<void()> check;
};

Registry<BackendRecord>& backend_registry();

}  // namespace chorus
