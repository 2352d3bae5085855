#include "chorus_config.h"
#include "foundations/backends/backend.h"
#include "foundations/base/error.h"
#if CHORUS_HAVE_CUDA
#include "foundations/backends/cuda/cuda_backend.h"
#endif

namespace chorus {

bool cuda_compiled() { return CHORUS_HAVE_CUDA != 0; }

bool cuda_device_available() {
#if CHORUS_HAVE_CUDA
  return cuda_device_count() > 0;
#else
  return false;
#endif
}

std::unique_ptr<Backend> make_backend(const std::string& name) {
  if (name == "cpu") return make_cpu_backend();
  if (name == "cuda" || name == "auto") {
#if CHORUS_HAVE_CUDA
    if (cuda_device_count() > 0) return make_cuda_backend();
#endif
    if (name == "auto") return make_cpu_backend();
    if (!cuda_compiled())
      throw UserError(
          "--backend cuda: this build has no CUDA backend (rebuild with nvcc on PATH, "
          "meson option -Dcuda=enabled), or use --backend cpu");
    throw UserError("--backend cuda: no usable CUDA device found; use --backend cpu or auto");
  }
  throw UserError("unknown backend '" + name + "' (choose cpu, cuda or auto)");
}

}  // namespace chorus
