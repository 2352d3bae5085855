#include "foundations/transport/body_pool.h"

#include <cstdlib>
#include <new>

namespace chorus {

struct BodyPool::Lease {
  std::shared_ptr<BodyPool> pool;
  Buffer buffer;
};

BodyPool::~BodyPool() {
  for (auto& b : free_) std::free(b.data);
}

zmq::message_t BodyPool::acquire(std::size_t size) {
  if (size < kMinPooled) return zmq::message_t(size);
  Buffer b{nullptr, 0};
  {
    std::lock_guard lock(mutex_);
    // Best fit among buffers no more than twice the size.
    std::size_t best = free_.size();
    for (std::size_t i = 0; i < free_.size(); ++i)
      if (free_[i].capacity >= size && free_[i].capacity <= 2 * size &&
          (best == free_.size() || free_[i].capacity < free_[best].capacity))
        best = i;
    if (best != free_.size()) {
      b = free_[best];
      free_[best] = free_.back();
      free_.pop_back();
      cached_bytes_ -= b.capacity;
    }
  }
  if (!b.data) {
    const std::size_t capacity = (size + 63) / 64 * 64;
    b.data = std::aligned_alloc(64, capacity);
    if (!b.data) throw std::bad_alloc();
    b.capacity = capacity;
  }
  auto* lease = new Lease{shared_from_this(), b};
  return zmq::message_t(b.data, size, &BodyPool::release, lease);
}

void BodyPool::release(void* /*data*/, void* hint) {
  auto* lease = static_cast<Lease*>(hint);
  lease->pool->give_back(lease->buffer);
  delete lease;
}

void BodyPool::give_back(Buffer b) {
  {
    std::lock_guard lock(mutex_);
    if (cached_bytes_ + b.capacity <= kMaxCachedBytes) {
      free_.push_back(b);
      cached_bytes_ += b.capacity;
      return;
    }
  }
  std::free(b.data);
}

}  // namespace chorus
