// Layer ops of the CPU backend.
#include "backends/cpu/cpu_backend.h"
#include "chorus/error.h"

namespace chorus {

void CpuBackend::linear_forward(const float*, const float*, const float*, float*, int, int, int,
                                Activation) { CHORUS_CHECK(false, "not yet"); }
void CpuBackend::linear_backward(const float*, const float*, const float*, float*, float*,
                                 float*, float*, int, int, int, Activation) { CHORUS_CHECK(false, "not yet"); }
void CpuBackend::conv2d_forward(const float*, const float*, const float*, float*,
                                const ConvShape&, Activation, float*) { CHORUS_CHECK(false, "not yet"); }
void CpuBackend::conv2d_backward(const float*, const float*, const float*, float*, float*,
                                 float*, float*, const ConvShape&, Activation, float*) { CHORUS_CHECK(false, "not yet"); }
void CpuBackend::maxpool2d_forward(const float*, float*, std::int32_t*, const PoolShape&) { CHORUS_CHECK(false, "not yet"); }
void CpuBackend::maxpool2d_backward(const float*, const std::int32_t*, float*, const PoolShape&) { CHORUS_CHECK(false, "not yet"); }
void CpuBackend::softmax_xent(const float*, const std::int32_t*, float*, float*, float*, int,
                              int) { CHORUS_CHECK(false, "not yet"); }

}  // namespace chorus
