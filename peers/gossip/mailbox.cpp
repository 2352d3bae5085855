#include "peers/gossip/mailbox.h"

#include <algorithm>

namespace chorus::gossip {

void Mailbox::put(Letter&& letter, std::uint64_t key) {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    entries_.push_back({key, std::move(letter)});
    while (entries_.size() > capacity_) entries_.pop_front();
  }
  cv_.notify_all();
}

std::optional<Letter> Mailbox::take_locked(std::initializer_list<std::uint16_t> kinds, PeerId from,
                                           std::uint64_t key) {
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->key != key || it->letter.from_id != from) continue;
    if (std::find(kinds.begin(), kinds.end(), it->letter.head.kind) == kinds.end()) continue;
    Letter l = std::move(it->letter);
    entries_.erase(it);
    return l;
  }
  return std::nullopt;
}

std::optional<Letter> Mailbox::wait(std::initializer_list<std::uint16_t> kinds, PeerId from, std::uint64_t key,
                                    Clock::time_point deadline, std::chrono::milliseconds poll,
                                    const std::function<bool()>& give_up) {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (auto l = take_locked(kinds, from, key)) return l;
    if (closed_ || Clock::now() >= deadline) return std::nullopt;
    if (give_up) {
      lock.unlock();
      const bool stop = give_up();
      lock.lock();
      if (stop) return take_locked(kinds, from, key);
    }
    cv_.wait_until(lock, std::min(deadline, Clock::now() + poll));
  }
}

std::optional<Letter> Mailbox::take(std::initializer_list<std::uint16_t> kinds, PeerId from, std::uint64_t key) {
  std::lock_guard lock(mutex_);
  return take_locked(kinds, from, key);
}

std::vector<Letter> Mailbox::take_if(const std::function<bool(const Letter&, std::uint64_t)>& match) {
  std::lock_guard lock(mutex_);
  std::vector<Letter> out;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (match(it->letter, it->key)) {
      out.push_back(std::move(it->letter));
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

void Mailbox::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    entries_.clear();
  }
  cv_.notify_all();
}

bool Mailbox::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

std::size_t Mailbox::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace chorus::gossip
