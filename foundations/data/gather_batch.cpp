#include "foundations/data/gather_batch.h"

#include <algorithm>

#include "foundations/base/error.h"

namespace chorus {

// x and y are resized to exactly the batch (their capacity is kept, so reusing the same
// buffers every step does not allocate). An index outside the dataset is a bug in the
// caller (shards come from shard_indices over the same dataset): CHORUS_CHECK.
void gather_batch(const Dataset& data, const std::vector<std::uint32_t>& indices,
                  std::vector<float>& x, std::vector<std::int32_t>& y) {
  const std::size_t floats = data.sample_floats();
  CHORUS_CHECK(data.images.size() == data.size() * floats, "dataset images and labels disagree");
  x.resize(indices.size() * floats);
  y.resize(indices.size());
  for (std::size_t i = 0; i < indices.size(); ++i) {
    const std::size_t s = indices[i];
    CHORUS_CHECK(s < data.size(), "batch index past the end of the dataset");
    std::copy_n(data.images.begin() + static_cast<std::ptrdiff_t>(s * floats), floats,
                x.begin() + static_cast<std::ptrdiff_t>(i * floats));
    y[i] = data.labels[s];
  }
}

}  // namespace chorus
