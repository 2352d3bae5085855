// The backend registry and the backends that are not one file of their own: cuda (its kernels
// live in a library of their own, which registers nothing) and auto.
#include "foundations/backends/backend_registry.h"

#include "chorus_config.h"
#include "foundations/base/error.h"
#if CHORUS_HAVE_CUDA
#include "foundations/backends/cuda/cuda_backend.h"
#endif

namespace chorus {

Registry<BackendRecord>& backend_registry() {
  static Registry<BackendRecord> registry("backend");
  return registry;
}

bool cuda_compiled() { return CHORUS_HAVE_CUDA != 0; }

bool cuda_device_available() {
#if CHORUS_HAVE_CUDA
  return cuda_device_count() > 0;
#else
  return false;
#endif
}

std::unique_ptr<Backend> make_backend(const std::string& name) { return backend_registry().get(name).make(); }

void check_backend(const std::string& name) {
  const BackendRecord& record = backend_registry().get(name);
  if (record.check) record.check();
}

namespace {

// Throws when the CUDA backend cannot run here, saying what to do.
void check_cuda() {
  if (!cuda_compiled())
    throw UserError(
        "--backend cuda: this build has no CUDA backend (rebuild with nvcc on PATH, "
        "meson option -Dcuda=enabled), or use --backend cpu");
  if (!cuda_device_available()) throw UserError("--backend cuda: no usable CUDA device found; use --backend cpu or auto");
}

std::unique_ptr<Backend> make_cuda() {
  check_cuda();
#if CHORUS_HAVE_CUDA
  return make_cuda_backend();
#else
  return nullptr;  // not reached: check_cuda threw
#endif
}

const bool cuda_registered = backend_registry().add(
    {"cuda", "cuBLAS and chorus's kernels on the first CUDA device", 20, make_cuda, check_cuda});
const bool auto_registered = backend_registry().add(
    {"auto", "cuda when a CUDA device is usable, else cpu", 30,
     []() -> std::unique_ptr<Backend> { return cuda_device_available() ? make_cuda() : make_cpu_backend(); }, {}});

}  // namespace
}  // namespace chorus
