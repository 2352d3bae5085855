#pragma once
// CudaBackend: the Backend on one CUDA device (private to foundations/backends/cuda).
//
// - Memory is plain cudaMalloc device memory (no managed memory), zeroed on the stream.
// - Everything runs on one non-blocking stream owned by the backend; the cuBLAS handle is
//   bound to it, so ops are ordered exactly as issued and return before they finish.
//   to_host() and sync() wait. to_device() returns once the host source may be reused: up
//   to kStagingMaxBytes it copies the source into one of a few pinned staging slots and
//   the device copy stays asynchronous (the host waits only when it comes back to a slot
//   whose earlier copy is still queued); larger uploads wait for the copy.
// - GEMMs go through cuBLAS in FP32 with TF32 tensor-core math off (CUBLAS_DEFAULT_MATH),
//   so results match the CPU backend to FP32 rounding. Setting the environment variable
//   CHORUS_CUDA_TF32=1 when the backend is created opts in to TF32 (faster on Ampere and
//   later; about 1e-3 relative error, so the parity tests do not hold then).
// - cuBLAS runs with its default atomics-free algorithms and every reduction kernel here
//   has a fixed order, so repeated runs give bit-identical results on the same GPU.
// - Threading: one thread issues ops (Backend contract). The stream accessor is for
//   HostMirror, which orders its copy stream against this stream with events.
// Implementation split by concern: cuda_backend.cu (setup, memory, GEMM, vector ops),
// cuda_layers.cu (layer ops), cuda_optim.cu (optimizer updates).
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <array>

#include "foundations/backends/backend.h"

namespace chorus {

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device);
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }

  std::string name() const override { return "cuda"; }
  bool host_memory() const override { return false; }

  void* alloc_bytes(std::size_t bytes) override;
  void free_bytes(void* p) noexcept override;
  void to_device(void* dst, const void* host_src, std::size_t bytes) override;
  void to_host(void* host_dst, const void* src, std::size_t bytes) override;
  void copy(float* dst, const float* src, std::size_t n) override;
  void fill(float* dst, float value, std::size_t n) override;
  void sync() override;

  void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
            const float* b, int ldb, float beta, float* c, int ldc) override;
  void axpby(float a, const float* x, float b, float* y, std::size_t n) override;

  void linear_forward(const float* x, const float* w, const float* bias, float* y, int batch,
                      int in, int out, Activation act) override;
  void linear_backward(const float* x, const float* w, const float* y, float* dy, float* dx,
                       float* dw, float* db, int batch, int in, int out,
                       Activation act) override;
  void conv2d_forward(const float* x, const float* w, const float* bias, float* y,
                      const ConvShape& shape, Activation act, float* workspace) override;
  void conv2d_backward(const float* x, const float* w, const float* y, float* dy, float* dx,
                       float* dw, float* db, const ConvShape& shape, Activation act,
                       float* workspace) override;
  void maxpool2d_forward(const float* x, float* y, std::int32_t* argmax,
                         const PoolShape& shape) override;
  void maxpool2d_backward(const float* dy, const std::int32_t* argmax, float* dx,
                          const PoolShape& shape) override;
  void softmax_xent(const float* logits, const std::int32_t* labels, float* dlogits,
                    float* loss_out, float* correct_out, int batch, int classes) override;

  void sgd_step(float* params, const float* grads, float* velocity, std::size_t n,
                const SgdHyper& h) override;
  void adam_step(float* params, const float* grads, const float* hessian, float* m, float* v,
                 std::size_t n, const AdamHyper& h) override;
  void rademacher(float* out, std::size_t n, std::uint64_t seed) override;
  void hutchinson(const float* v, const float* g_plus, const float* g, float eps, float* out,
                  std::size_t n) override;

 private:
  // `count` row-major GEMMs C_i = alpha op(A_i) op(B_i) + beta C_i with A_i = a + i*stride_a
  // (and likewise B, C); a stride of 0 shares one operand across the batch.
  void gemm_strided_batched(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                            const float* a, int lda, long long stride_a, const float* b, int ldb,
                            long long stride_b, float beta, float* c, int ldc,
                            long long stride_c, int count);
  // Frees what the constructor created (also after a partial construction); never throws.
  void release() noexcept;

  // A pinned host buffer an upload is staged through, and the event recorded after the
  // device copy that reads it.
  struct StagingSlot {
    void* host = nullptr;
    std::size_t capacity = 0;
    cudaEvent_t copied = nullptr;
  };
  static constexpr int kStagingSlots = 4;
  static constexpr std::size_t kStagingMaxBytes = std::size_t{16} << 20;

  int device_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  std::array<StagingSlot, kStagingSlots> staging_{};
  int next_slot_ = 0;
};

}  // namespace chorus
