#pragma once
// The shared state behind SendCompletion, and zero-copy ZeroMQ messages that report to it.
#include <zmq.hpp>

#include <condition_variable>
#include <cstddef>
#include <mutex>

#include "foundations/transport/transport.h"

namespace chorus {

struct SendCompletion::State {
  std::mutex mutex;
  std::condition_variable cv;
  std::size_t outstanding = 0;  // messages still referring to the caller's buffer
};

// A message whose data is `data` itself (not copied); when ZeroMQ lets go of it -- sent,
// dropped, or never sent -- the state's outstanding count goes down.
zmq::message_t borrow_into_message(const void* data, std::size_t size,
                                   const std::shared_ptr<SendCompletion::State>& state);

}  // namespace chorus
