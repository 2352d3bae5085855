#pragma once
// PublishedSnapshot: what a peer answers early with (elastic-gossip and pull gossip with
// --overlap S >= 1): its parameters at its latest exchange point plus every exchange applied to
// it since (its own merges, late and early answers), so that an answer never pulls the peer
// back towards a value an earlier exchange has moved it from. Local steps since the exchange
// point are not in it.
//
// Copy on write: value() hands out a pointer that stays valid and unchanged while a send reads
// it, whatever set() and add() do meanwhile. Not thread-safe: the owning strategy guards it
// with its own mutex.
#include <memory>
#include <span>
#include <vector>

namespace chorus::gossip {

class PublishedSnapshot {
 public:
  // At an exchange point: the parameters as they are.
  void set(std::span<const float> params) {
    value_ = std::make_shared<const std::vector<float>>(params.begin(), params.end());
  }
  // An exchange applied to the peer: value += delta (nothing before the first set()).
  void add(std::span<const float> delta) {
    if (!value_ || value_->size() != delta.size()) return;
    auto next = std::make_shared<std::vector<float>>(*value_);
    for (std::size_t k = 0; k < delta.size(); ++k) (*next)[k] += delta[k];
    value_ = std::move(next);
  }
  void reset() { value_.reset(); }
  // Null until the first set().
  const std::shared_ptr<const std::vector<float>>& value() const { return value_; }
  // Whether a letter of `values` floats can be answered from it.
  bool fits(std::size_t values) const { return value_ && value_->size() == values; }

 private:
  std::shared_ptr<const std::vector<float>> value_;
};

}  // namespace chorus::gossip
