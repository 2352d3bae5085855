// The ZeroMQ FrameLink and make_zmq_transport (see foundations/transport/zmq_transport.h).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "foundations/base/error.h"
#include "foundations/transport/frame_link.h"
#include "foundations/transport/framed_transport.h"
#include "foundations/transport/receive_heap.h"
#include "foundations/transport/zmq_transport.h"

namespace chorus {

namespace {

// Names the connection a message came in on, for logs: "127.0.0.1:41234" (the remote end of
// the TCP connection), else what ZeroMQ knows ("ipc#12": the connection's descriptor).
std::string connection_name(zmq::message_t& m) {
  const int fd = zmq_msg_get(m.handle(), ZMQ_SRCFD);
  if (fd >= 0) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    char host[INET6_ADDRSTRLEN] = {};
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
      if (ss.ss_family == AF_INET) {
        const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
        if (::inet_ntop(AF_INET, &a->sin_addr, host, sizeof host)) return fmt::format("{}:{}", host, ntohs(a->sin_port));
      } else if (ss.ss_family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
        if (::inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host))
          return fmt::format("[{}]:{}", host, ntohs(a->sin6_port));
      }
    }
    return fmt::format("ipc#{}", fd);
  }
  const char* peer = zmq_msg_gets(m.handle(), "Peer-Address");
  return peer ? peer : "unknown";
}

int to_ms(std::chrono::milliseconds d) {
  return static_cast<int>(std::clamp<std::int64_t>(d.count(), 0, 1 << 30));
}

class ZmqLink final : public FrameLink {
 public:
  explicit ZmqLink(const TransportConfig& config) : config_(config), context_(std::max(1, config.io_threads)) {
    context_.set(zmq::ctxopt::blocky, 0);  // closing never waits beyond each socket's linger
    receiver_ = zmq::socket_t(context_, zmq::socket_type::pull);
    // The largest legal part: a body of max_payload_bytes, or the longest head.
    receiver_.set(zmq::sockopt::maxmsgsize,
                  static_cast<std::int64_t>(std::max<std::uint64_t>(config.max_payload_bytes, wire::kMaxHeadBytes)));
    // No high-water mark: libzmq 4.3.4 aborts (zmq_assert !_io_error / _input_stopped,
    // zeromq/libzmq#4364, #3937) when a connection whose input was stopped by a full pipe then
    // handles a ZMTP PING -- which any remote can send. FramedTransport's receive thread drains
    // this socket continuously into its own bounded queue, so memory stays bounded there.
    receiver_.set(zmq::sockopt::rcvhwm, 0);
    receiver_.set(zmq::sockopt::linger, 0);
    apply_heartbeats(receiver_);
    try {
      receiver_.bind(config.address);
    } catch (const zmq::error_t& e) {
      throw UserError(fmt::format("cannot bind {}: {}", config.address, e.what()));
    }
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) throw UserError(fmt::format("{}: cannot create an eventfd", config.address));
    address_ = receiver_.get(zmq::sockopt::last_endpoint);
    if (address_.empty()) address_ = config.address;
    if (address_.size() > wire::kMaxAddressBytes)
      throw UserError(fmt::format("bound address {} is longer than {} characters", address_, wire::kMaxAddressBytes));
  }

  ~ZmqLink() override {
    {
      std::lock_guard lock(peers_mutex_);
      peers_.clear();  // sockets close (with linger) when the last sender lets go
    }
    receiver_.close();
    context_.close();
    ::close(wake_fd_);
  }

  const std::string& address() const override { return address_; }
  bool borrows_bodies() const override { return true; }
  bool in_process() const override { return false; }

  SendStatus push(const std::string& to, WireFrame&& frame, TransportClock::time_point deadline) override {
    std::shared_ptr<Outgoing> out = outgoing(to, frame.urgent);
    if (!out) return SendStatus::kUnreachable;
    // Another thread's send to the same peer may be blocked up to its own (longer) deadline:
    // wait for the socket only up to this send's deadline, so a small message (a membership
    // ack) never waits out a large one to a dead peer.
    std::unique_lock lock(out->mutex, std::defer_lock);
    if (!lock.try_lock_until(deadline)) return SendStatus::kTimeout;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - TransportClock::now());
    out->socket.set(zmq::sockopt::sndtimeo, to_ms(left));
    try {
      if (!out->socket.send(frame.head, zmq::send_flags::sndmore)) return SendStatus::kTimeout;
    } catch (const zmq::error_t&) {  // interrupted by a signal: nothing was queued
      return SendStatus::kTimeout;
    }
    // Once the first part is accepted the second always is (ZeroMQ counts whole messages
    // against the high-water mark). Should it fail all the same, the socket holds half a
    // message and is dropped, so no later frame can be glued to it.
    bool sent = false;
    try {
      sent = out->socket.send(frame.body, zmq::send_flags::none).has_value();
    } catch (const zmq::error_t&) {
      sent = false;
    }
    if (!sent) {
      out->socket.set(zmq::sockopt::linger, 0);
      drop(key(to, frame.urgent), out);
      return SendStatus::kTimeout;
    }
    return SendStatus::kOk;
  }

  std::optional<WireFrame> pull(TransportClock::time_point deadline) override {
    std::lock_guard lock(receive_mutex_);
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - TransportClock::now());
    zmq::pollitem_t items[2] = {{receiver_.handle(), 0, ZMQ_POLLIN, 0}, {nullptr, wake_fd_, ZMQ_POLLIN, 0}};
    try {
      if (zmq::poll(items, 2, std::chrono::milliseconds(to_ms(left))) <= 0) return std::nullopt;
    } catch (const zmq::error_t&) {  // interrupted by a signal
      return std::nullopt;
    }
    if (items[1].revents & ZMQ_POLLIN) {
      std::uint64_t count = 0;
      if (::read(wake_fd_, &count, sizeof count) < 0) count = 0;  // reset; EAGAIN: already reset
    }
    if (!(items[0].revents & ZMQ_POLLIN)) return std::nullopt;
    WireFrame f;
    f.parts = 0;
    zmq::message_t part;
    bool more = true;
    while (more) {
      // The parts of one message arrive together, so none of these waits.
      zmq::recv_result_t got;
      try {
        got = receiver_.recv(part, zmq::recv_flags::dontwait);
      } catch (const zmq::error_t&) {
        got.reset();
      }
      if (!got) break;
      more = part.more();
      if (f.parts == 0) {
        f.origin = connection_name(part);
        f.head = std::move(part);
      } else if (f.parts == 1) {
        f.body = std::move(part);
      }
      ++f.parts;  // parts beyond the second are dropped, and the frame refused
      part = zmq::message_t();
    }
    if (f.parts == 0) return std::nullopt;
    return f;
  }

  void interrupt() override {
    const std::uint64_t one = 1;
    if (::write(wake_fd_, &one, sizeof one) < 0) {
      // EAGAIN: the counter is saturated, so a wake-up is pending anyway.
    }
  }

  void forget(const std::string& to) override {
    for (const bool urgent : {false, true}) {
      const std::string k = key(to, urgent);
      std::shared_ptr<Outgoing> out;
      {
        std::lock_guard lock(peers_mutex_);
        auto it = peers_.find(k);
        if (it == peers_.end()) continue;
        out = it->second;
      }
      std::lock_guard lock(out->mutex);
      out->socket.set(zmq::sockopt::linger, 0);  // drop what is queued; borrowed buffers are released
      drop(k, out);
    }
  }

 private:
  struct Outgoing {
    std::timed_mutex mutex;
    zmq::socket_t socket;
  };

  // Urgent frames go to a destination on a second connection of their own (the receiver's
  // PULL socket takes turns between connections, so they never wait behind bulk frames).
  static std::string key(const std::string& to, bool urgent) { return urgent ? "!" + to : to; }

  // Removes `out` from the cache if it is still the socket under `k`; the socket closes when
  // its last user lets go.
  void drop(const std::string& k, const std::shared_ptr<Outgoing>& out) {
    std::lock_guard lock(peers_mutex_);
    auto it = peers_.find(k);
    if (it != peers_.end() && it->second == out) peers_.erase(it);
  }

  void apply_heartbeats(zmq::socket_t& s) const {
    s.set(zmq::sockopt::heartbeat_ivl, to_ms(config_.heartbeat_interval));
    s.set(zmq::sockopt::heartbeat_timeout, to_ms(config_.heartbeat_timeout));
    s.set(zmq::sockopt::heartbeat_ttl, to_ms(config_.heartbeat_timeout));
  }

  std::shared_ptr<Outgoing> outgoing(const std::string& to, bool urgent) {
    std::lock_guard lock(peers_mutex_);
    auto it = peers_.find(key(to, urgent));
    if (it != peers_.end()) return it->second;
    auto out = std::make_shared<Outgoing>();
    out->socket = zmq::socket_t(context_, zmq::socket_type::push);
    out->socket.set(zmq::sockopt::immediate, 1);  // queue only on a live connection
    // A PUSH socket never reads messages, so anything larger than the ZMTP commands of the
    // handshake and heartbeats costs the remote its connection; no high-water mark for the
    // same reason as the receiver's.
    out->socket.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(4096));
    out->socket.set(zmq::sockopt::rcvhwm, 0);
    out->socket.set(zmq::sockopt::sndhwm, std::max(1, config_.send_queue));
    out->socket.set(zmq::sockopt::linger, to_ms(config_.linger));
    out->socket.set(zmq::sockopt::reconnect_ivl, 100);
    out->socket.set(zmq::sockopt::reconnect_ivl_max, 2000);
    apply_heartbeats(out->socket);
    try {
      out->socket.connect(to);
    } catch (const zmq::error_t&) {
      return nullptr;  // a malformed address or unknown protocol: nobody can be reached there
    }
    peers_.emplace(key(to, urgent), out);
    return out;
  }

  TransportConfig config_;
  zmq::context_t context_;
  zmq::socket_t receiver_;
  std::mutex receive_mutex_;
  int wake_fd_ = -1;  // interrupt() makes it readable, which ends a pull()'s poll
  std::string address_;
  std::mutex peers_mutex_;
  std::unordered_map<std::string, std::shared_ptr<Outgoing>> peers_;  // by key(to, urgent)
};

}  // namespace

std::unique_ptr<Transport> make_zmq_transport(TransportConfig config) {
  validate_bind_address(config, false);
  keep_receive_buffers_on_heap(static_cast<std::size_t>(config.max_payload_bytes));
  auto link = std::make_unique<ZmqLink>(config);
  return std::make_unique<FramedTransport>(std::move(config), std::move(link));
}

}  // namespace chorus
