#pragma once
// CUDA_CHECK / CUBLAS_CHECK: wrap every CUDA runtime and cuBLAS call of the CUDA backend. A
// failure throws chorus::InvariantError naming the call, the file and line, and the library's
// own error string, e.g.
//   cuda_backend.cu:42: invariant failed: cudaMalloc(&p, bytes) (CUDA error 2: out of memory)
// Kernel launches are followed by CUDA_CHECK_LAUNCH(), which reports launch-configuration
// errors at once; faults inside a kernel surface at the next synchronising call.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "foundations/base/error.h"

namespace chorus::cuda_detail {

[[noreturn]] inline void throw_cuda_error(const char* call, cudaError_t err, const char* file,
                                          int line) {
  throw_invariant(call, file, line,
                  "CUDA error " + std::to_string(static_cast<int>(err)) + ": " +
                      cudaGetErrorString(err));
}

[[noreturn]] inline void throw_cublas_error(const char* call, cublasStatus_t status,
                                            const char* file, int line) {
  throw_invariant(call, file, line,
                  "cuBLAS error " + std::to_string(static_cast<int>(status)) + ": " +
                      cublasGetStatusString(status));
}

}  // namespace chorus::cuda_detail

#define CUDA_CHECK(call)                                                            \
  do {                                                                              \
    const cudaError_t chorus_cuda_err_ = (call);                                    \
    if (chorus_cuda_err_ != cudaSuccess)                                            \
      ::chorus::cuda_detail::throw_cuda_error(#call, chorus_cuda_err_, __FILE__, __LINE__); \
  } while (0)

#define CUBLAS_CHECK(call)                                                               \
  do {                                                                                   \
    const cublasStatus_t chorus_cublas_status_ = (call);                                 \
    if (chorus_cublas_status_ != CUBLAS_STATUS_SUCCESS)                                  \
      ::chorus::cuda_detail::throw_cublas_error(#call, chorus_cublas_status_, __FILE__,  \
                                                __LINE__);                               \
  } while (0)

// After a <<<...>>> launch: reports a bad launch configuration (or an earlier sticky error).
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())
