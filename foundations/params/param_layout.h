#pragma once
// ParamLayout: how a model's tensors sit inside its one flat parameter buffer.
//
// Every model keeps all parameters in one contiguous float buffer and all gradients in a
// second buffer with the same layout; each tensor is a view (offset, shape) into them. The
// flat buffer is the unit that optimizers update and that strategies average, seal and send.
// Offsets are aligned to 16 floats (64 bytes) so each tensor starts on a cache line / vector
// boundary; the padding floats are part of the buffer and stay zero.
#include <cstddef>
#include <string>
#include <vector>

namespace chorus {

struct TensorView {
  std::string name;         // e.g. "fc1.weight"
  std::size_t offset = 0;   // in floats, from the start of the flat buffer
  std::vector<int> shape;   // e.g. {256, 784}
  std::size_t size() const;  // product of shape
};

class ParamLayout {
 public:
  // Appends a tensor and returns its offset. Names must be unique.
  std::size_t add(std::string name, std::vector<int> shape);
  const std::vector<TensorView>& tensors() const { return tensors_; }
  const TensorView& find(const std::string& name) const;  // throws InvariantError if absent
  std::size_t total() const { return total_; }  // floats in the flat buffer, padding included
  std::size_t count() const;                   // parameters proper, padding excluded

 private:
  std::vector<TensorView> tensors_;
  std::size_t total_ = 0;
};

}  // namespace chorus
