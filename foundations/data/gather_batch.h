#pragma once
// gather_batch: a batch of samples copied out of a Dataset.
#include <cstdint>
#include <vector>

#include "foundations/data/dataset.h"

namespace chorus {

// Copies the selected samples into contiguous host batch buffers.
void gather_batch(const Dataset& data, const std::vector<std::uint32_t>& indices,
                  std::vector<float>& x, std::vector<std::int32_t>& y);

}  // namespace chorus
