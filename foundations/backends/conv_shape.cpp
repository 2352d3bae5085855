#include <algorithm>

#include "foundations/backends/backend.h"

namespace chorus {

// Room for the im2col columns of up to kConvImagesPerGemm images at once; backends lower a
// batch in chunks of that many images.
std::size_t ConvShape::workspace_floats() const {
  constexpr int kConvImagesPerGemm = 32;
  const std::size_t images = static_cast<std::size_t>(std::min(batch, kConvImagesPerGemm));
  return images * static_cast<std::size_t>(in_channels) * kernel * kernel * out_height() *
         out_width();
}

}  // namespace chorus
