#pragma once
// Helpers of the CUDA tests: skipping without a device, seeded random inputs, the same host
// data in a CPU and a CUDA buffer, and comparing the two backends' results.
//
// Tolerance convention (compare_backends): a result passes when
//   max_i |cpu_i - cuda_i| <= rtol * max_i |cpu_i| + atol
// i.e. the error is measured against the tensor's scale, as GEMM rounding errors are
// (a k-term dot product carries error ~ k * eps * sum |terms|, however small the sum).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "foundations/backends/backend.h"
#include "foundations/backends/cuda/cuda_backend.h"
#include "tests/test_util.h"

namespace chorus_cuda_test {

// Exits 77 (meson: SKIP) unless a CUDA device is usable. Call first in every test case.
inline void require_cuda() {
  if (chorus::cuda_device_count() == 0) chorus_test::skip("no CUDA device");
}

using chorus_test::random_floats;

// The same values in a CPU-backend buffer and a CUDA-backend buffer.
template <typename T>
class Twin {
 public:
  Twin(chorus::Backend& cpu, chorus::Backend& cuda, const std::vector<T>& host)
      : cpu_(cpu, host.size()), cuda_(cuda, host.size()) {
    if (!host.empty()) {
      cpu_.upload(host.data(), host.size());
      cuda_.upload(host.data(), host.size());
    }
  }
  T* cpu() const { return cpu_.data(); }
  T* cuda() const { return cuda_.data(); }
  std::size_t size() const { return cpu_.size(); }
  std::vector<T> cpu_values() const { return values(cpu_); }
  std::vector<T> cuda_values() const { return values(cuda_); }

 private:
  static std::vector<T> values(const chorus::DeviceBuffer<T>& b) {
    std::vector<T> v(b.size());
    if (!v.empty()) b.download(v.data(), v.size());
    return v;
  }
  chorus::DeviceBuffer<T> cpu_, cuda_;
};

// Checks the convention above and reports the worst element.
inline void expect_close(const std::vector<float>& cpu, const std::vector<float>& cuda,
                         double rtol, double atol, const std::string& what) {
  REQUIRE(cpu.size() == cuda.size());
  double scale = 0.0;
  for (float v : cpu) scale = std::max(scale, std::fabs(static_cast<double>(v)));
  double worst = 0.0;
  std::size_t worst_at = 0;
  bool all_finite = true;
  for (std::size_t i = 0; i < cpu.size(); ++i) {
    const double diff = std::fabs(static_cast<double>(cpu[i]) - cuda[i]);
    if (!std::isfinite(cuda[i]) || !std::isfinite(cpu[i])) {
      if (all_finite) worst_at = i;
      all_finite = false;
    } else if (diff > worst) {
      worst = diff;
      worst_at = i;
    }
  }
  const double bound = rtol * scale + atol;
  INFO(what << ": " << cpu.size() << " values, scale " << scale << ", max |cpu - cuda| "
            << worst << " at " << worst_at << " (cpu "
            << (cpu.empty() ? 0.0f : cpu[worst_at]) << ", cuda "
            << (cuda.empty() ? 0.0f : cuda[worst_at]) << "), bound " << bound);
  CHECK(all_finite);
  CHECK(worst <= bound);
}

template <typename T>
void expect_close(const Twin<T>& twin, double rtol, double atol, const std::string& what) {
  expect_close(twin.cpu_values(), twin.cuda_values(), rtol, atol, what);
}

template <typename T>
void expect_equal(const Twin<T>& twin, const std::string& what) {
  const std::vector<T> cpu = twin.cpu_values(), cuda = twin.cuda_values();
  std::size_t mismatches = 0, first = 0;
  for (std::size_t i = 0; i < cpu.size(); ++i) {
    if (!(cpu[i] == cuda[i])) {
      if (mismatches == 0) first = i;
      ++mismatches;
    }
  }
  INFO(what << ": " << mismatches << " of " << cpu.size() << " differ, first at " << first);
  CHECK(mismatches == 0);
}

}  // namespace chorus_cuda_test
