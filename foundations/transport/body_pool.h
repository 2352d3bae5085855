#pragma once
// BodyPool: reusable buffers for the bodies the sealer writes (ciphertext), so that a stream of
// large encrypted chunks does not map, fault in and unmap fresh memory for every chunk.
//
// acquire() returns a ZeroMQ message whose data lives in a pooled buffer; when ZeroMQ releases
// the message (sent or dropped) the buffer goes back to the pool. Bodies below kMinPooled bytes
// are ordinary messages. At most kMaxCachedBytes wait in the pool; buffers are 64-byte aligned.
// Thread-safe; the pool stays alive until its last buffer is back (shared ownership).
#include <zmq.hpp>

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace chorus {

class BodyPool : public std::enable_shared_from_this<BodyPool> {
 public:
  static constexpr std::size_t kMinPooled = 64 * 1024;
  static constexpr std::size_t kMaxCachedBytes = 128u << 20;

  static std::shared_ptr<BodyPool> create() { return std::shared_ptr<BodyPool>(new BodyPool()); }
  ~BodyPool();

  zmq::message_t acquire(std::size_t size);

 private:
  BodyPool() = default;
  struct Buffer {
    void* data;
    std::size_t capacity;
  };
  struct Lease;
  static void release(void* data, void* hint);
  void give_back(Buffer b);

  std::mutex mutex_;
  std::vector<Buffer> free_;
  std::size_t cached_bytes_ = 0;
};

}  // namespace chorus
