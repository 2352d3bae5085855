// The in-process FrameLink, its hub, and make_inproc_transport (see inproc_transport.h).
#include <fmt/format.h>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "foundations/base/error.h"
#include "foundations/transport/frame_link.h"
#include "foundations/transport/framed_transport.h"
#include "foundations/transport/inproc_transport.h"

namespace chorus {

namespace {
struct Mailbox {
  std::mutex mutex;
  std::condition_variable cv;  // signalled on push, pop and close
  std::deque<WireFrame> frames;
  std::size_t capacity = 1;
  bool closed = false;
  bool interrupted = false;  // the owner's pull() should return
};
}  // namespace

struct InprocHub::Impl {
  std::mutex mutex;
  std::unordered_map<std::string, std::shared_ptr<Mailbox>> boxes;

  std::shared_ptr<Mailbox> open(const std::string& address, std::size_t capacity) {
    std::lock_guard lock(mutex);
    if (boxes.count(address)) throw UserError(fmt::format("cannot bind {}: address already in use", address));
    auto box = std::make_shared<Mailbox>();
    box->capacity = std::max<std::size_t>(1, capacity);
    boxes.emplace(address, box);
    return box;
  }
  void close(const std::string& address) {
    std::shared_ptr<Mailbox> box;
    {
      std::lock_guard lock(mutex);
      auto it = boxes.find(address);
      if (it == boxes.end()) return;
      box = std::move(it->second);
      boxes.erase(it);
    }
    std::lock_guard lock(box->mutex);
    box->closed = true;
    box->frames.clear();
    box->cv.notify_all();
  }
  std::shared_ptr<Mailbox> find(const std::string& address) {
    std::lock_guard lock(mutex);
    auto it = boxes.find(address);
    return it == boxes.end() ? nullptr : it->second;
  }
};

InprocHub::InprocHub() : impl_(std::make_unique<Impl>()) {}
InprocHub::~InprocHub() = default;

namespace {

class InprocLink final : public FrameLink {
 public:
  InprocLink(std::shared_ptr<InprocHub> hub, const TransportConfig& config)
      : hub_(std::move(hub)), address_(config.address),
        box_(hub_->impl().open(address_, std::max<std::size_t>(1, std::min<std::size_t>(config.receive_queue, 1024)))) {}
  ~InprocLink() override { hub_->impl().close(address_); }

  const std::string& address() const override { return address_; }
  bool borrows_bodies() const override { return false; }
  bool in_process() const override { return true; }

  SendStatus push(const std::string& to, WireFrame&& frame, TransportClock::time_point deadline) override {
    std::shared_ptr<Mailbox> box = hub_->impl().find(to);
    if (!box) return SendStatus::kUnreachable;
    frame.origin = address_;  // the hub knows who is calling: the sender's own address
    std::unique_lock lock(box->mutex);
    if (!box->cv.wait_until(lock, deadline, [&] { return box->closed || box->frames.size() < box->capacity; }))
      return SendStatus::kTimeout;
    if (box->closed) return SendStatus::kUnreachable;
    box->frames.push_back(std::move(frame));
    box->cv.notify_all();
    return SendStatus::kOk;
  }

  std::optional<WireFrame> pull(TransportClock::time_point deadline) override {
    std::unique_lock lock(box_->mutex);
    box_->cv.wait_until(lock, deadline, [&] { return !box_->frames.empty() || box_->interrupted; });
    box_->interrupted = false;
    if (box_->frames.empty()) return std::nullopt;
    WireFrame f = std::move(box_->frames.front());
    box_->frames.pop_front();
    box_->cv.notify_all();  // room for a waiting sender
    return f;
  }

  void interrupt() override {
    std::lock_guard lock(box_->mutex);
    box_->interrupted = true;
    box_->cv.notify_all();
  }

  void forget(const std::string& /*to*/) override {}  // nothing is cached per destination

 private:
  std::shared_ptr<InprocHub> hub_;
  std::string address_;
  std::shared_ptr<Mailbox> box_;
};

}  // namespace

std::unique_ptr<Transport> make_inproc_transport(std::shared_ptr<InprocHub> hub, TransportConfig config) {
  CHORUS_CHECK(hub != nullptr, "an in-process transport needs a hub");
  validate_bind_address(config, true);
  auto link = std::make_unique<InprocLink>(std::move(hub), config);
  return std::make_unique<FramedTransport>(std::move(config), std::move(link));
}

}  // namespace chorus
