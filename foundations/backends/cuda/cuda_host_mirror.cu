// HostMirror of the CUDA backend: pinned host memory, a device snapshot buffer and a copy
// stream of its own, ordered against the backend's compute stream with two events.
//
// The snapshot decouples the slow host transfer from the buffer being mirrored:
//   download: compute stream: snapshot <- src (device copy)  ->  copy stream: host <- snapshot
//   upload:   copy stream: snapshot <- host  ->  compute stream: dst <- snapshot (device copy)
// so the PCIe transfer overlaps compute, and only the fast device-to-device copy sits on the
// compute stream. Rule for the snapshot: compute-stream uses of it wait for copy_done_ (the
// copy stream's last use); copy-stream uses wait for snapshot_released_ (the compute stream's
// last use). Waiting on an event never recorded returns at once.
#include <memory>

#include "foundations/backends/cuda/cuda_backend.h"
#include "foundations/backends/cuda/cuda_backend_impl.h"
#include "foundations/backends/cuda/cuda_check.h"
#include "foundations/backends/host_mirror.h"
#include "foundations/base/error.h"

namespace chorus {

namespace {

class CudaHostMirror final : public HostMirror {
 public:
  CudaHostMirror(CudaBackend& backend, std::size_t n) : backend_(backend), n_(n) {
    if (n_ == 0) return;
    try {
      CUDA_CHECK(cudaSetDevice(backend_.device()));
      CUDA_CHECK(cudaHostAlloc(reinterpret_cast<void**>(&host_), bytes(), cudaHostAllocDefault));
      CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&snapshot_), bytes()));
      CUDA_CHECK(cudaStreamCreateWithFlags(&copy_stream_, cudaStreamNonBlocking));
      CUDA_CHECK(cudaEventCreateWithFlags(&snapshot_released_, cudaEventDisableTiming));
      // Blocking sync: wait() yields the CPU instead of spinning (it may run on the
      // communication thread, beside the training thread).
      CUDA_CHECK(cudaEventCreateWithFlags(&copy_done_,
                                          cudaEventDisableTiming | cudaEventBlockingSync));
    } catch (...) {
      release();
      throw;
    }
  }
  ~CudaHostMirror() override { release(); }
  CudaHostMirror(const CudaHostMirror&) = delete;
  CudaHostMirror& operator=(const CudaHostMirror&) = delete;

  float* host() override { return host_; }
  const float* host() const override { return host_; }
  std::size_t size() const override { return n_; }

  void begin_download(const float* device_src) override {
    if (n_ == 0) return;
    const cudaStream_t compute = backend_.stream();
    CUDA_CHECK(cudaStreamWaitEvent(compute, copy_done_, 0));
    CUDA_CHECK(cudaMemcpyAsync(snapshot_, device_src, bytes(), cudaMemcpyDeviceToDevice, compute));
    CUDA_CHECK(cudaEventRecord(snapshot_released_, compute));
    CUDA_CHECK(cudaStreamWaitEvent(copy_stream_, snapshot_released_, 0));
    CUDA_CHECK(cudaMemcpyAsync(host_, snapshot_, bytes(), cudaMemcpyDeviceToHost, copy_stream_));
    CUDA_CHECK(cudaEventRecord(copy_done_, copy_stream_));
  }

  void begin_upload(float* device_dst) override {
    if (n_ == 0) return;
    const cudaStream_t compute = backend_.stream();
    CUDA_CHECK(cudaStreamWaitEvent(copy_stream_, snapshot_released_, 0));
    CUDA_CHECK(cudaMemcpyAsync(snapshot_, host_, bytes(), cudaMemcpyHostToDevice, copy_stream_));
    CUDA_CHECK(cudaEventRecord(copy_done_, copy_stream_));
    CUDA_CHECK(cudaStreamWaitEvent(compute, copy_done_, 0));
    CUDA_CHECK(cudaMemcpyAsync(device_dst, snapshot_, bytes(), cudaMemcpyDeviceToDevice, compute));
    CUDA_CHECK(cudaEventRecord(snapshot_released_, compute));
  }

  void wait() override {
    if (n_ == 0) return;
    CUDA_CHECK(cudaEventSynchronize(copy_done_));
  }

 private:
  std::size_t bytes() const { return n_ * sizeof(float); }

  void release() noexcept {
    // Errors are ignored: this runs from the destructor, possibly after a device fault.
    if (snapshot_released_) cudaEventSynchronize(snapshot_released_);
    if (copy_stream_) cudaStreamSynchronize(copy_stream_);
    if (copy_done_) cudaEventDestroy(copy_done_);
    if (snapshot_released_) cudaEventDestroy(snapshot_released_);
    if (copy_stream_) cudaStreamDestroy(copy_stream_);
    if (snapshot_) cudaFree(snapshot_);
    if (host_) cudaFreeHost(host_);
    copy_done_ = snapshot_released_ = nullptr;
    copy_stream_ = nullptr;
    snapshot_ = host_ = nullptr;
  }

  CudaBackend& backend_;
  std::size_t n_;
  float* host_ = nullptr;      // n floats, pinned
  float* snapshot_ = nullptr;  // n floats, device
  cudaStream_t copy_stream_ = nullptr;
  cudaEvent_t snapshot_released_ = nullptr;  // compute stream, after its last use of snapshot_
  cudaEvent_t copy_done_ = nullptr;          // copy stream, after its last copy
};

}  // namespace

std::unique_ptr<HostMirror> make_cuda_host_mirror(Backend& backend, std::size_t n) {
  auto* cuda = dynamic_cast<CudaBackend*>(&backend);
  CHORUS_CHECK(cuda != nullptr, "make_cuda_host_mirror: backend '" + backend.name() +
                                    "' is not the CUDA backend");
  return std::make_unique<CudaHostMirror>(*cuda, n);
}

}  // namespace chorus
