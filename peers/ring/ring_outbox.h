#pragma once
// Outbox: what one ring attempt sends to its right neighbour, in order — the hello, chunks of
// the attempt's buffer (zero-copy: the transport reads them in place) and forwarded chunks of
// received messages (zero-copy from the received payload, kept alive until sent).
//
// flush() hands queued messages to the transport without waiting for room (unless asked to),
// so the collective's single thread can go on receiving while the right neighbour's queue is
// full; the order of messages is the order of push calls. For every chunk of the buffer it
// remembers whether it is still queued and when the transport no longer reads it, so that the
// caller overwrites a region only after its earlier send has let go of it.
// Not thread-safe; one per attempt.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "foundations/transport/transport.h"

namespace chorus::ring {

// A buffer that a zero-copy send may still read, and the completion that says when it stops.
struct HeldSend {
  std::shared_ptr<const void> holder;
  SendCompletion completion;
};

class Outbox {
 public:
  static constexpr std::size_t kNoChunk = static_cast<std::size_t>(-1);

  Outbox(Transport& transport, std::string to, std::uint64_t key, std::size_t total_elements, std::size_t chunks);

  void push_bytes(std::uint16_t type, std::vector<std::byte> bytes);
  // A chunk of `total_elements` at `offset`. `chunk_index`: the buffer chunk it is sent from
  // (kNoChunk for forwarded payloads, which `holder` keeps alive).
  void push_chunk(std::uint16_t type, std::span<const float> values, std::size_t offset, std::uint64_t step,
                  std::shared_ptr<const void> holder, std::size_t chunk_index);

  // Hands over queued messages; the first may wait up to `wait` for room. Returns kOk when
  // the queue is empty, kTimeout when the destination has no room now, kUnreachable when it
  // cannot be reached.
  SendStatus flush(std::chrono::milliseconds wait = std::chrono::milliseconds(0));
  void drop_queued();
  bool empty() const { return queue_.empty(); }

  bool queued(std::size_t chunk_index) const { return chunk_queued_[chunk_index] != 0; }
  const SendCompletion& completion(std::size_t chunk_index) const { return chunk_sends_[chunk_index]; }
  // True when the transport reads none of this attempt's buffers or forwarded payloads.
  bool all_released();
  // Waits (at most until `until`) for the first send still reading a buffer; true when all are done.
  bool wait_released(std::chrono::steady_clock::time_point until);
  // The forwarded payloads still being read (their holders must outlive the sends).
  std::vector<HeldSend> take_unreleased();

  std::uint64_t bytes_sent() const { return bytes_sent_; }
  const std::string& to() const { return to_; }

 private:
  struct Item {
    std::uint16_t type = 0;
    bool params = false;
    std::vector<std::byte> bytes;
    std::span<const float> values;
    std::size_t offset = 0;
    std::uint64_t step = 0;
    std::shared_ptr<const void> holder;
    std::size_t chunk_index = kNoChunk;
  };

  Transport& transport_;
  std::string to_;
  std::uint64_t key_;
  std::size_t total_;
  std::deque<Item> queue_;
  std::vector<SendCompletion> chunk_sends_;
  std::vector<unsigned char> chunk_queued_;
  std::size_t released_prefix_ = 0;  // chunk_sends_[0, released_prefix_) are known done
  std::deque<HeldSend> forwards_;
  std::uint64_t bytes_sent_ = 0;
};

}  // namespace chorus::ring
