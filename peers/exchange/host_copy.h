#pragma once
// HostCopy: a host copy of one of the model's flat buffers — its parameters (HostParams) or its
// gradients (HostGrads) — so that a strategy's code is the same on every backend. On a
// host-memory backend (cpu) host() is the model's buffer itself and pull/push copy nothing; on
// CUDA a HostMirror copies the buffer down and back up.
// Used on one thread at a time (the training thread, or a merge thread handed the parameters);
// errors as HostMirror's.
#include <memory>
#include <span>

#include "foundations/backends/host_mirror.h"
#include "foundations/models/model.h"

namespace chorus {

class HostCopy {
 public:
  enum class Buffer { params, grads };
  HostCopy(Model& model, Buffer buffer);

  // Makes host() equal the model's buffer (waits for the device).
  std::span<float> pull();
  // Writes host() back into the model's buffer (ordered before later compute).
  void push();
  std::span<float> host();
  Model& model() { return model_; }

 private:
  float* device() const;

  Model& model_;
  Buffer buffer_;
  std::unique_ptr<HostMirror> mirror_;  // null on host-memory backends
};

// The parameters' host copy.
class HostParams : public HostCopy {
 public:
  explicit HostParams(Model& model) : HostCopy(model, Buffer::params) {}
};

// The gradients' host copy, for strategies that exchange gradients (all-reduce SGD).
class HostGrads : public HostCopy {
 public:
  explicit HostGrads(Model& model) : HostCopy(model, Buffer::grads) {}
};

}  // namespace chorus
