#include "foundations/params/param_layout.h"

#include "foundations/base/error.h"

namespace chorus {

namespace {
constexpr std::size_t kAlignFloats = 16;
}

std::size_t TensorView::size() const {
  std::size_t n = 1;
  for (int d : shape) n *= static_cast<std::size_t>(d);
  return n;
}

std::size_t ParamLayout::add(std::string name, std::vector<int> shape) {
  for (const auto& t : tensors_) CHORUS_CHECK(t.name != name, "duplicate tensor " + name);
  for (int d : shape) CHORUS_CHECK(d > 0, "tensor " + name + " has a non-positive dimension");
  TensorView view{std::move(name), total_, std::move(shape)};
  const std::size_t n = view.size();
  total_ += (n + kAlignFloats - 1) / kAlignFloats * kAlignFloats;
  tensors_.push_back(std::move(view));
  return tensors_.back().offset;
}

const TensorView& ParamLayout::find(const std::string& name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return t;
  CHORUS_CHECK(false, "no tensor named " + name);
  __builtin_unreachable();
}

std::size_t ParamLayout::count() const {
  std::size_t n = 0;
  for (const auto& t : tensors_) n += t.size();
  return n;
}

}  // namespace chorus
