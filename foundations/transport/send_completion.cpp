#include "foundations/transport/send_completion.h"

#include "foundations/base/error.h"

namespace chorus {

namespace {
void release(void* /*data*/, void* hint) {
  auto* holder = static_cast<std::shared_ptr<SendCompletion::State>*>(hint);
  {
    std::lock_guard lock((*holder)->mutex);
    --(*holder)->outstanding;
  }
  (*holder)->cv.notify_all();
  delete holder;
}
}  // namespace

SendCompletion::SendCompletion() = default;
SendCompletion::SendCompletion(std::shared_ptr<State> state) : state_(std::move(state)) {}

bool SendCompletion::done() const {
  if (!state_) return true;
  std::lock_guard lock(state_->mutex);
  return state_->outstanding == 0;
}

bool SendCompletion::wait_for(std::chrono::milliseconds timeout) const {
  if (!state_) return true;
  std::unique_lock lock(state_->mutex);
  return state_->cv.wait_for(lock, timeout, [&] { return state_->outstanding == 0; });
}

zmq::message_t borrow_into_message(const void* data, std::size_t size,
                                   const std::shared_ptr<SendCompletion::State>& state) {
  CHORUS_CHECK(state != nullptr, "a borrowed message needs a completion state");
  {
    std::lock_guard lock(state->mutex);
    ++state->outstanding;
  }
  auto* holder = new std::shared_ptr<SendCompletion::State>(state);
  try {
    return zmq::message_t(const_cast<void*>(data), size, &release, holder);
  } catch (...) {
    release(nullptr, holder);
    throw;
  }
}

const char* send_status_name(SendStatus status) {
  switch (status) {
    case SendStatus::kOk: return "ok";
    case SendStatus::kTimeout: return "timeout";
    case SendStatus::kUnreachable: return "unreachable";
  }
  return "unknown";
}

std::span<const float> ReceivedMessage::floats() const {
  if (!params || params->dtype != wire::DType::kF32) return {};
  return {reinterpret_cast<const float*>(payload.data.data()), payload.data.size() / sizeof(float)};
}

}  // namespace chorus
