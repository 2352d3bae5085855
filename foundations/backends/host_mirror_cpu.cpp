// HostMirror for host-memory backends (plain memcpy, synchronous), and make_host_mirror(),
// which picks the implementation for a backend.
#include <cstring>
#include <vector>

#include "chorus_config.h"
#include "foundations/backends/host_mirror.h"
#include "foundations/base/error.h"
#if CHORUS_HAVE_CUDA
#include "foundations/backends/cuda/cuda_backend.h"
#endif

namespace chorus {

namespace {

// The backend's device memory is host memory and its ops have completed when they return, so
// a copy is a memcpy done at once.
class CpuHostMirror final : public HostMirror {
 public:
  explicit CpuHostMirror(std::size_t n) : host_(n) {}

  float* host() override { return host_.data(); }
  const float* host() const override { return host_.data(); }
  std::size_t size() const override { return host_.size(); }

  void begin_download(const float* device_src) override {
    if (!host_.empty()) std::memcpy(host_.data(), device_src, host_.size() * sizeof(float));
  }
  void begin_upload(float* device_dst) override {
    if (!host_.empty()) std::memcpy(device_dst, host_.data(), host_.size() * sizeof(float));
  }
  void wait() override {}

 private:
  std::vector<float> host_;
};

}  // namespace

std::unique_ptr<HostMirror> make_host_mirror(Backend& backend, std::size_t n) {
  if (backend.host_memory()) return std::make_unique<CpuHostMirror>(n);
#if CHORUS_HAVE_CUDA
  if (backend.name() == "cuda") return make_cuda_host_mirror(backend, n);
#endif
  CHORUS_CHECK(false, "make_host_mirror: no host mirror for backend '" + backend.name() + "'");
  return nullptr;  // not reached
}

}  // namespace chorus
