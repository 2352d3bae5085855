#pragma once
// Entry points of the CUDA backend, compiled only when the build has CUDA (CHORUS_HAVE_CUDA).
#include <memory>

#include "chorus/backend.h"

namespace chorus {

// Number of usable CUDA devices (0 when the driver or a device is missing; never throws).
int cuda_device_count() noexcept;
// A backend on device 0. Throws UserError when no device is usable.
std::unique_ptr<Backend> make_cuda_backend();

}  // namespace chorus
