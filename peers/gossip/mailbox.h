#pragma once
// Mailbox: received letters waiting for the thread that will use them, each filed under
// (kind, sender id, key) — key is the round a letter belongs to, or the id of the request it
// answers. The channel thread puts; training or merge threads wait for one.
//
// Blocking: wait() returns when a matching letter is there, when the deadline passes, when
// `give_up()` (polled every `poll`, e.g. "the partner is no longer a member") returns true, or
// when the mailbox is closed; nothing else blocks. Bounded: beyond `capacity` letters the
// oldest is dropped.
// Threading: every method is thread-safe.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <vector>

#include "peers/gossip/letter.h"

namespace chorus::gossip {

class Mailbox {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Mailbox(std::size_t capacity = 256) : capacity_(capacity) {}

  void put(Letter&& letter, std::uint64_t key);
  std::optional<Letter> wait(std::initializer_list<std::uint16_t> kinds, PeerId from, std::uint64_t key,
                             Clock::time_point deadline, std::chrono::milliseconds poll,
                             const std::function<bool()>& give_up);
  std::optional<Letter> take(std::initializer_list<std::uint16_t> kinds, PeerId from, std::uint64_t key);
  // Removes and returns every letter for which `match(letter, key)` holds.
  std::vector<Letter> take_if(const std::function<bool(const Letter&, std::uint64_t key)>& match);
  void close();
  bool closed() const;
  std::size_t size() const;

 private:
  struct Entry {
    std::uint64_t key;
    Letter letter;
  };
  std::optional<Letter> take_locked(std::initializer_list<std::uint16_t> kinds, PeerId from, std::uint64_t key);

  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Entry> entries_;
  bool closed_ = false;
};

}  // namespace chorus::gossip
