// Backend selection as the tools see it, on whatever machine runs the tests: "auto" picks
// CUDA exactly when a device is usable, "cuda" without one is a one-line UserError (exit 2),
// and an unknown name is a UserError.
#include <doctest/doctest.h>

#include <string>

#include "foundations/backends/backend.h"
#include "foundations/base/error.h"

using namespace chorus;

TEST_CASE("auto follows the device; cuda without one is a clear user error") {
  CHECK(make_backend("cpu")->name() == "cpu");
  const bool gpu = cuda_device_available();
  CHECK(make_backend("auto")->name() == (gpu ? "cuda" : "cpu"));
  if (!gpu) {
    try {
      make_backend("cuda");
      FAIL("--backend cuda without a device must throw");
    } catch (const UserError& e) {
      const std::string what = e.what();
      CHECK(e.exit_code() == 2);
      CHECK(what.find("cuda") != std::string::npos);
      CHECK(what.find('\n') == std::string::npos);
    }
  }
  CHECK_THROWS_AS(make_backend("tpu"), UserError);
}
