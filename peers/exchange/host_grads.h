#pragma once
// HostGrads: a host copy of the model's flat gradient buffer, the gradient counterpart of
// HostParams (strategy.h), for strategies that exchange gradients (all-reduce SGD). On a
// host-memory backend (cpu) host() is model.grads() itself and pull/push copy nothing; on
// CUDA a HostMirror copies the gradients down and the averaged ones back up.
// Used on the training thread only; errors as HostMirror's.
#include <memory>
#include <span>

#include "foundations/backends/host_mirror.h"
#include "foundations/models/model.h"

namespace chorus {

class HostGrads {
 public:
  explicit HostGrads(Model& model);
  // Makes host() equal the model's gradients (waits for the device).
  std::span<float> pull();
  // Writes host() back into the model's gradients (ordered before later compute).
  void push();
  std::span<float> host();

 private:
  Model& model_;
  std::unique_ptr<HostMirror> mirror_;  // null on host-memory backends
};

}  // namespace chorus
