#include "foundations/base/error.h"

#include <fmt/format.h>

namespace chorus {

void throw_invariant(const char* expr, const char* file, int line, const std::string& msg) {
  throw InvariantError(fmt::format("{}:{}: invariant failed: {} ({})", file, line, expr, msg));
}

}  // namespace chorus
