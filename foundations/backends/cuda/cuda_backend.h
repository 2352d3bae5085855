#pragma once
// Entry points of the CUDA backend, compiled only when the build has CUDA (CHORUS_HAVE_CUDA).
// This header needs no CUDA headers; the backend itself is in cuda_backend_impl.h.
#include <cstddef>
#include <memory>

#include "foundations/backends/backend.h"
#include "foundations/backends/host_mirror.h"

namespace chorus {

// Number of usable CUDA devices (0 when the driver or a device is missing, or when this build
// has no code for device 0's architecture; never throws). Probed once per process.
int cuda_device_count() noexcept;
// A backend on device 0. Throws UserError when no device is usable.
std::unique_ptr<Backend> make_cuda_backend();
// The HostMirror of a CUDA backend (make_host_mirror() calls this for backend "cuda"):
// n floats of pinned host memory, a device snapshot buffer and a copy stream of its own.
std::unique_ptr<HostMirror> make_cuda_host_mirror(Backend& backend, std::size_t n);

}  // namespace chorus
