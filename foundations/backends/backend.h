#pragma once
// Backend: where tensors live and how the training arithmetic runs on them.
//
// Contract
// - Memory: alloc() returns zeroed backend memory ("device memory"); on a host backend it is
//   ordinary host memory, on CUDA it is a cudaMalloc allocation. Pointers passed to the ops
//   below are always device memory of *this* backend unless the parameter says "host".
// - Ordering: every op is issued on the backend's single stream and may return before it
//   completes; sync() waits for all of them. Host-side reads (to_host, read_scalar) wait for
//   the work before them. The CPU backend is synchronous.
// - Threading: a Backend is used by one thread at a time (the training thread).
// - Layout: tensors are row-major; activations are batch-major (N, C, H, W); a linear
//   layer's weight is (out, in) so y = x W^T + b; a convolution's weight is (OC, C, KH, KW).
// - Gradient outputs (dW, db, dx) are *overwritten*, not accumulated.
// - Errors: a failed device call throws InvariantError naming the call, file and line.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace chorus {

enum class Activation { none, relu };

// A 2-D convolution with square stride and zero padding, over a batch.
struct ConvShape {
  int batch = 0;
  int in_channels = 0, height = 0, width = 0;
  int out_channels = 0, kernel = 0, stride = 1, pad = 0;
  int out_height() const { return (height + 2 * pad - kernel) / stride + 1; }
  int out_width() const { return (width + 2 * pad - kernel) / stride + 1; }
  // Floats of workspace the backend needs for one call of conv2d_forward/backward.
  std::size_t workspace_floats() const;
};

// Max pooling with a square window equal to its stride (2x2, stride 2 in the models).
struct PoolShape {
  int batch = 0, channels = 0, height = 0, width = 0, window = 2;
  int out_height() const { return height / window; }
  int out_width() const { return width / window; }
};

// Hyper-parameters of one optimizer update; the step's learning rate comes from the schedule.
struct SgdHyper {
  float lr = 0.1f, momentum = 0.9f, weight_decay = 0.0f;
  bool nesterov = false;
};
struct AdamHyper {
  float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, weight_decay = 0.0f;
  std::int64_t step = 1;  // 1-based step number, for bias correction
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string name() const = 0;  // "cpu", "cuda"
  virtual bool host_memory() const = 0;  // true when device memory is host memory

  // --- memory ---
  virtual void* alloc_bytes(std::size_t bytes) = 0;  // zeroed; nullptr only when bytes == 0
  virtual void free_bytes(void* p) noexcept = 0;
  virtual void to_device(void* dst, const void* host_src, std::size_t bytes) = 0;
  virtual void to_host(void* host_dst, const void* src, std::size_t bytes) = 0;
  virtual void copy(float* dst, const float* src, std::size_t n) = 0;
  virtual void fill(float* dst, float value, std::size_t n) = 0;
  virtual void sync() = 0;

  // --- dense algebra ---
  // C(m,n) = alpha * op(A) * op(B) + beta * C, row-major, leading dimensions in elements.
  virtual void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
                    int lda, const float* b, int ldb, float beta, float* c, int ldc) = 0;
  // y = a*x + b*y
  virtual void axpby(float a, const float* x, float b, float* y, std::size_t n) = 0;

  // --- layers ---
  // y(batch,out) = act(x(batch,in) W(out,in)^T + bias(out))
  virtual void linear_forward(const float* x, const float* w, const float* bias, float* y,
                              int batch, int in, int out, Activation act) = 0;
  // dy is the gradient w.r.t. the activated output y; for act == relu it is masked in place
  // (y > 0). Writes dw, db, and dx unless dx is null.
  virtual void linear_backward(const float* x, const float* w, const float* y, float* dy,
                               float* dx, float* dw, float* db, int batch, int in, int out,
                               Activation act) = 0;
  // y(N,OC,OH,OW) = act(conv(x, w) + bias); workspace holds shape.workspace_floats() floats.
  virtual void conv2d_forward(const float* x, const float* w, const float* bias, float* y,
                              const ConvShape& shape, Activation act, float* workspace) = 0;
  // Same conventions as linear_backward.
  virtual void conv2d_backward(const float* x, const float* w, const float* y, float* dy,
                               float* dx, float* dw, float* db, const ConvShape& shape,
                               Activation act, float* workspace) = 0;
  // argmax receives, per output element, the flat input index of the maximum.
  virtual void maxpool2d_forward(const float* x, float* y, std::int32_t* argmax,
                                 const PoolShape& shape) = 0;
  virtual void maxpool2d_backward(const float* dy, const std::int32_t* argmax, float* dx,
                                  const PoolShape& shape) = 0;
  // Softmax cross-entropy over rows. Writes the mean loss to loss_out[0] and the number of
  // rows whose argmax equals the label to correct_out[0] (as a float); if dlogits is not
  // null it receives d(mean loss)/d(logits). Labels outside [0, classes) are a caller bug.
  virtual void softmax_xent(const float* logits, const std::int32_t* labels, float* dlogits,
                            float* loss_out, float* correct_out, int batch, int classes) = 0;

  // --- optimizers (elementwise over flat buffers of n floats) ---
  // SGD with momentum buffer `velocity` (PyTorch semantics; nesterov optional).
  virtual void sgd_step(float* params, const float* grads, float* velocity, std::size_t n,
                        const SgdHyper& h) = 0;
  // Adam (AdamW-style decoupled weight decay when weight_decay > 0) with moments m, v.
  // If hessian is not null, it replaces grads^2 in the second moment (AdaHessian), with
  // grads still driving the first moment.
  virtual void adam_step(float* params, const float* grads, const float* hessian, float* m,
                         float* v, std::size_t n, const AdamHyper& h) = 0;
  // out = random +-1 entries (Rademacher), a deterministic function of (seed, index).
  virtual void rademacher(float* out, std::size_t n, std::uint64_t seed) = 0;
  // out = v * (g_plus - g) / eps, elementwise (the Hutchinson diagonal estimate).
  virtual void hutchinson(const float* v, const float* g_plus, const float* g, float eps,
                          float* out, std::size_t n) = 0;
};

// The CPU backend (Eigen). Always available.
std::unique_ptr<Backend> make_cpu_backend();

// A registered backend (backend_registry.h): "cpu", "cuda" or "auto" (CUDA when this build has
// it and a device is present). Throws UserError for "cuda" without a usable GPU, and for
// unknown names.
std::unique_ptr<Backend> make_backend(const std::string& name);

// Throws the UserError make_backend(name) would, without making the backend (before any work).
void check_backend(const std::string& name);

// Whether this build has the CUDA backend compiled in, and whether a device is usable now.
bool cuda_compiled();
bool cuda_device_available();

// RAII buffer of T in a backend's memory.
template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(Backend& backend, std::size_t n)
      : backend_(&backend), data_(static_cast<T*>(backend.alloc_bytes(n * sizeof(T)))), size_(n) {}
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept { swap(o); }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    DeviceBuffer tmp(std::move(o));
    swap(tmp);
    return *this;
  }
  ~DeviceBuffer() {
    if (backend_ && data_) backend_->free_bytes(data_);
  }
  T* data() const { return data_; }
  std::size_t size() const { return size_; }
  void upload(const T* host, std::size_t n) { backend_->to_device(data_, host, n * sizeof(T)); }
  void download(T* host, std::size_t n) const { backend_->to_host(host, data_, n * sizeof(T)); }

 private:
  void swap(DeviceBuffer& o) noexcept {
    std::swap(backend_, o.backend_);
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
  }
  Backend* backend_ = nullptr;
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace chorus
