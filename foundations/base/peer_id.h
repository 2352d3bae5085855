#pragma once
// PeerId: who a peer is, stable across its restarts (kept in its checkpoint directory) and
// never 0. Its address, where it can be reached, is another thing: see topology/view.h.
#include <cstdint>

namespace chorus {

using PeerId = std::uint64_t;

}  // namespace chorus
