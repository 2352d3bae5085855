#include "foundations/backends/cpu/cpu_backend.h"

#include <Eigen/Core>
#include <cstdlib>
#include <cstring>
#include <new>

#include "foundations/backends/backend_registry.h"

namespace chorus {

namespace {
constexpr std::size_t kAlignment = 64;

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Stride = Eigen::OuterStride<>;
using ConstMap = Eigen::Map<const RowMajor, Eigen::Unaligned, Stride>;
using Map = Eigen::Map<RowMajor, Eigen::Unaligned, Stride>;
}  // namespace

void* CpuBackend::alloc_bytes(std::size_t bytes) {
  if (bytes == 0) return nullptr;
  const std::size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  void* p = std::aligned_alloc(kAlignment, rounded);
  if (!p) throw std::bad_alloc();
  std::memset(p, 0, rounded);
  return p;
}

void CpuBackend::free_bytes(void* p) noexcept { std::free(p); }

void CpuBackend::to_device(void* dst, const void* host_src, std::size_t bytes) {
  if (bytes) std::memcpy(dst, host_src, bytes);
}

void CpuBackend::to_host(void* host_dst, const void* src, std::size_t bytes) {
  if (bytes) std::memcpy(host_dst, src, bytes);
}

void CpuBackend::copy(float* dst, const float* src, std::size_t n) {
  if (n && dst != src) std::memmove(dst, src, n * sizeof(float));
}

void CpuBackend::fill(float* dst, float value, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = value;
}

void CpuBackend::gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                      const float* a, int lda, const float* b, int ldb, float beta, float* c,
                      int ldc) {
  if (m == 0 || n == 0) return;
  Map C(c, m, n, Stride(ldc));
  if (k == 0) {
    if (beta == 0.0f) C.setZero(); else C *= beta;
    return;
  }
  // op(A) is m x k, op(B) is k x n; a transposed operand is stored the other way round.
  ConstMap A(a, trans_a ? k : m, trans_a ? m : k, Stride(lda));
  ConstMap B(b, trans_b ? n : k, trans_b ? k : n, Stride(ldb));
  if (beta == 0.0f) {
    C.setZero();
  } else if (beta != 1.0f) {
    C *= beta;
  }
  if (!trans_a && !trans_b) C.noalias() += alpha * A * B;
  else if (trans_a && !trans_b) C.noalias() += alpha * A.transpose() * B;
  else if (!trans_a && trans_b) C.noalias() += alpha * A * B.transpose();
  else C.noalias() += alpha * A.transpose() * B.transpose();
}

void CpuBackend::axpby(float a, const float* x, float b, float* y, std::size_t n) {
  Eigen::Map<const Eigen::ArrayXf> X(x, static_cast<Eigen::Index>(n));
  Eigen::Map<Eigen::ArrayXf> Y(y, static_cast<Eigen::Index>(n));
  Y = a * X + b * Y;
}

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

namespace {
const bool registered = backend_registry().add({"cpu", "Eigen on this machine's cores", 10, make_cpu_backend, {}});
}  // namespace

}  // namespace chorus
