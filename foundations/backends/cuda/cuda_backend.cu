// CUDA backend: device discovery, setup, memory, GEMM (cuBLAS) and vector ops.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "foundations/backends/cuda/cuda_backend.h"
#include "foundations/backends/cuda/cuda_backend_impl.h"
#include "foundations/backends/cuda/cuda_check.h"
#include "foundations/backends/cuda/cuda_launch.h"
#include "foundations/base/error.h"

namespace chorus {

using cuda_detail::blocks_for;
using cuda_detail::checked_int;
using cuda_detail::kThreads;

namespace {

// Launched by nothing: cuda_device_count() asks the runtime for its attributes, which fails
// when this build holds no code the device can run (compiled for a newer architecture).
__global__ void probe_kernel() {}

__global__ void fill_kernel(float* __restrict__ dst, float value, std::size_t n) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x)
    dst[i] = value;
}

__global__ void axpby_kernel(float a, const float* __restrict__ x, float b, float* __restrict__ y,
                             std::size_t n) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x)
    y[i] = a * x[i] + b * y[i];
}

// C(m, n) with leading dimension ldc: C = beta * C, or 0 when beta == 0 (C is not read then,
// as BLAS does). The k == 0 case of gemm.
__global__ void scale_matrix_kernel(float* c, int m, int n, int ldc, float beta) {
  const int total = m * n;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    float* p = c + static_cast<std::size_t>(i / n) * ldc + i % n;
    *p = beta == 0.0f ? 0.0f : beta * *p;
  }
}

int probe_device_count() noexcept {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count <= 0) {
    cudaGetLastError();  // clear the error so later runtime calls do not report it
    return 0;
  }
  // The backend runs on device 0 (the current device of a fresh thread).
  cudaFuncAttributes attributes;
  if (cudaFuncGetAttributes(&attributes, probe_kernel) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return count;
}

bool tf32_requested() {
  const char* v = std::getenv("CHORUS_CUDA_TF32");
  return v && std::strcmp(v, "1") == 0;
}

}  // namespace

int cuda_device_count() noexcept {
  static const int count = probe_device_count();
  return count;
}

std::unique_ptr<Backend> make_cuda_backend() {
  if (cuda_device_count() == 0)
    throw UserError("--backend cuda: no usable CUDA device found; use --backend cpu or auto");
  return std::make_unique<CudaBackend>(0);
}

CudaBackend::CudaBackend(int device) : device_(device) {
  try {
    CUDA_CHECK(cudaSetDevice(device_));
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    CUBLAS_CHECK(cublasCreate(&cublas_));
    CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
    CUBLAS_CHECK(cublasSetPointerMode(cublas_, CUBLAS_POINTER_MODE_HOST));
    CUBLAS_CHECK(cublasSetMathMode(
        cublas_, tf32_requested() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    for (StagingSlot& slot : staging_)
      CUDA_CHECK(cudaEventCreateWithFlags(&slot.copied, cudaEventDisableTiming));
  } catch (...) {
    release();
    throw;
  }
}

CudaBackend::~CudaBackend() { release(); }

void CudaBackend::release() noexcept {
  // Errors are ignored here: this runs from the destructor, possibly after a device fault.
  if (stream_) cudaStreamSynchronize(stream_);
  for (StagingSlot& slot : staging_) {
    if (slot.host) cudaFreeHost(slot.host);
    if (slot.copied) cudaEventDestroy(slot.copied);
    slot = StagingSlot{};
  }
  if (cublas_) cublasDestroy(cublas_);
  if (stream_) cudaStreamDestroy(stream_);
  cublas_ = nullptr;
  stream_ = nullptr;
}

// --- memory ---

void* CudaBackend::alloc_bytes(std::size_t bytes) {
  if (bytes == 0) return nullptr;
  void* p = nullptr;
  const cudaError_t err = cudaMalloc(&p, bytes);
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    throw UserError("CUDA device out of memory allocating " +
                    std::to_string(bytes >> 20) + " MiB; use a smaller batch or --backend cpu");
  }
  CUDA_CHECK(err);
  const cudaError_t zero = cudaMemsetAsync(p, 0, bytes, stream_);
  if (zero != cudaSuccess) {
    cudaFree(p);
    CUDA_CHECK(zero);
  }
  return p;
}

void CudaBackend::free_bytes(void* p) noexcept {
  if (!p) return;
  // Work already queued may still use p.
  cudaStreamSynchronize(stream_);
  cudaFree(p);
}

void CudaBackend::to_device(void* dst, const void* host_src, std::size_t bytes) {
  if (bytes == 0) return;
  if (bytes > kStagingMaxBytes) {
    CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, stream_));
    CUDA_CHECK(cudaStreamSynchronize(stream_));
    return;
  }
  StagingSlot& slot = staging_[next_slot_];
  next_slot_ = (next_slot_ + 1) % kStagingSlots;
  // The slot's previous copy must have read it before it is overwritten.
  CUDA_CHECK(cudaEventSynchronize(slot.copied));
  if (slot.capacity < bytes) {
    if (slot.host) CUDA_CHECK(cudaFreeHost(slot.host));
    slot.host = nullptr;
    slot.capacity = 0;
    const std::size_t capacity = std::max(bytes, std::size_t{64} << 10);
    CUDA_CHECK(cudaHostAlloc(&slot.host, capacity, cudaHostAllocDefault));
    slot.capacity = capacity;
  }
  std::memcpy(slot.host, host_src, bytes);
  CUDA_CHECK(cudaMemcpyAsync(dst, slot.host, bytes, cudaMemcpyHostToDevice, stream_));
  CUDA_CHECK(cudaEventRecord(slot.copied, stream_));
}

void CudaBackend::to_host(void* host_dst, const void* src, std::size_t bytes) {
  if (bytes == 0) return;
  CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaBackend::copy(float* dst, const float* src, std::size_t n) {
  if (n == 0 || dst == src) return;
  const auto d = reinterpret_cast<std::uintptr_t>(dst);
  const auto s = reinterpret_cast<std::uintptr_t>(src);
  const std::size_t bytes = n * sizeof(float);
  CHORUS_CHECK(d + bytes <= s || s + bytes <= d, "copy: source and destination overlap");
  CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_));
}

void CudaBackend::fill(float* dst, float value, std::size_t n) {
  if (n == 0) return;
  fill_kernel<<<blocks_for(n), kThreads, 0, stream_>>>(dst, value, n);
  CUDA_CHECK_LAUNCH();
}

void CudaBackend::sync() { CUDA_CHECK(cudaStreamSynchronize(stream_)); }

// --- dense algebra ---
//
// cuBLAS is column-major. A row-major matrix X (r x c, leading dimension ld) is, read
// column-major, X^T (c x r) with the same ld. So the row-major C = op(A) op(B) is computed
// as the column-major C^T = op(B)^T op(A)^T: swap the operands and m with n, keep each
// operand's transpose flag and leading dimension.

void CudaBackend::gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                       const float* a, int lda, const float* b, int ldb, float beta, float* c,
                       int ldc) {
  CHORUS_CHECK(m >= 0 && n >= 0 && k >= 0, "gemm: negative size");
  if (m == 0 || n == 0) return;
  if (k == 0) {
    const int total = checked_int(static_cast<std::size_t>(m) * n, "gemm: C too large");
    scale_matrix_kernel<<<blocks_for(total), kThreads, 0, stream_>>>(c, m, n, ldc, beta);
    CUDA_CHECK_LAUNCH();
    return;
  }
  CUBLAS_CHECK(cublasSgemm(cublas_, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                           trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha, b, ldb, a, lda,
                           &beta, c, ldc));
}

void CudaBackend::gemm_strided_batched(bool trans_a, bool trans_b, int m, int n, int k,
                                       float alpha, const float* a, int lda, long long stride_a,
                                       const float* b, int ldb, long long stride_b, float beta,
                                       float* c, int ldc, long long stride_c, int count) {
  CHORUS_CHECK(m > 0 && n > 0 && k > 0 && count > 0, "gemm_strided_batched: empty GEMM");
  CUBLAS_CHECK(cublasSgemmStridedBatched(
      cublas_, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m,
      k, &alpha, b, ldb, stride_b, a, lda, stride_a, &beta, c, ldc, stride_c, count));
}

void CudaBackend::axpby(float a, const float* x, float b, float* y, std::size_t n) {
  if (n == 0) return;
  axpby_kernel<<<blocks_for(n), kThreads, 0, stream_>>>(a, x, b, y, n);
  CUDA_CHECK_LAUNCH();
}

}  // namespace chorus
