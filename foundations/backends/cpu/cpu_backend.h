#pragma once
// The CPU backend: Eigen on host memory, synchronous, single-threaded per process (a peer
// process per core is the intended deployment). Implementation is split by concern:
// cpu_backend.cpp (memory, GEMM, vector ops), cpu_layers.cpp (layer ops), cpu_optim.cpp
// (optimizer updates).
#include "foundations/backends/backend.h"

namespace chorus {

class CpuBackend final : public Backend {
 public:
  std::string name() const override { return "cpu"; }
  bool host_memory() const override { return true; }

  void* alloc_bytes(std::size_t bytes) override;
  void free_bytes(void* p) noexcept override;
  void to_device(void* dst, const void* host_src, std::size_t bytes) override;
  void to_host(void* host_dst, const void* src, std::size_t bytes) override;
  void copy(float* dst, const float* src, std::size_t n) override;
  void fill(float* dst, float value, std::size_t n) override;
  void sync() override {}

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
};

}  // namespace chorus
