#include "peers/ring/ring_outbox.h"

#include "foundations/base/error.h"

namespace chorus::ring {

Outbox::Outbox(Transport& transport, std::string to, std::uint64_t key, std::size_t total_elements,
               std::size_t chunks)
    : transport_(transport), to_(std::move(to)), key_(key), total_(total_elements), chunk_sends_(chunks),
      chunk_queued_(chunks, 0) {}

void Outbox::push_bytes(std::uint16_t type, std::vector<std::byte> bytes) {
  Item item;
  item.type = type;
  item.bytes = std::move(bytes);
  queue_.push_back(std::move(item));
}

void Outbox::push_chunk(std::uint16_t type, std::span<const float> values, std::size_t offset, std::uint64_t step,
                        std::shared_ptr<const void> holder, std::size_t chunk_index) {
  Item item;
  item.type = type;
  item.params = true;
  item.values = values;
  item.offset = offset;
  item.step = step;
  item.holder = std::move(holder);
  item.chunk_index = chunk_index;
  if (chunk_index != kNoChunk) chunk_queued_[chunk_index] = 1;
  queue_.push_back(std::move(item));
}

SendStatus Outbox::flush(std::chrono::milliseconds wait) {
  while (!queue_.empty()) {
    Item& item = queue_.front();
    SendStatus status;
    if (!item.params) {
      status = transport_.send(to_, item.type, item.bytes, wait);
    } else {
      ParamSend meta;
      meta.type = item.type;
      meta.step = item.step;
      meta.tag = key_;
      meta.offset = item.offset;
      meta.total_elements = total_;
      meta.chunk_elements = item.values.size();
      SendResult sent = transport_.send_params(to_, meta, item.values, wait);
      status = sent.status;
      if (status == SendStatus::kOk) {
        bytes_sent_ += item.values.size_bytes();
        if (item.chunk_index != kNoChunk) {
          chunk_sends_[item.chunk_index] = sent.completion;
          chunk_queued_[item.chunk_index] = 0;
        }
        if (item.holder && !sent.completion.done()) forwards_.push_back({std::move(item.holder), sent.completion});
      }
    }
    if (status != SendStatus::kOk) return status;
    queue_.pop_front();
    wait = std::chrono::milliseconds(0);
  }
  while (!forwards_.empty() && forwards_.front().completion.done()) forwards_.pop_front();
  return SendStatus::kOk;
}

void Outbox::drop_queued() {
  for (const Item& item : queue_)
    if (item.chunk_index != kNoChunk) chunk_queued_[item.chunk_index] = 0;
  queue_.clear();
}

bool Outbox::all_released() {
  while (released_prefix_ < chunk_sends_.size() && chunk_sends_[released_prefix_].done()) ++released_prefix_;
  while (!forwards_.empty() && forwards_.front().completion.done()) forwards_.pop_front();
  return released_prefix_ == chunk_sends_.size() && forwards_.empty();
}

bool Outbox::wait_released(std::chrono::steady_clock::time_point until) {
  for (;;) {
    if (all_released()) return true;
    const auto now = std::chrono::steady_clock::now();
    if (now >= until) return false;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - now);
    const SendCompletion& first =
        released_prefix_ < chunk_sends_.size() ? chunk_sends_[released_prefix_] : forwards_.front().completion;
    first.wait_for(left);
  }
}

std::vector<HeldSend> Outbox::take_unreleased() {
  std::vector<HeldSend> held;
  for (auto& f : forwards_)
    if (!f.completion.done()) held.push_back(std::move(f));
  forwards_.clear();
  return held;
}

}  // namespace chorus::ring
