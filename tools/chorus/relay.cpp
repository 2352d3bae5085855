// `chorus relay`: a TCP relay that plays a slow, jittery or lossy link where the kernel has
// no netem (chorus compare --net lan|wan starts one per peer). It accepts connections on
// --listen, opens one to --upstream for each (from --source, when given, so policy routing
// can send it down the peer's link), and forwards both directions, holding every chunk for
// the one-way delay ± jitter and, with --loss, stalling it one retransmission timeout with
// the probability that one of its segments is lost (relay_delay_line.h). Runs until SIGTERM
// or SIGINT, then prints what it relayed.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <optional>
#include <chrono>
#include <cmath>
#include <deque>
#include <list>
#include <memory>
#include <string>

#include "foundations/base/error.h"
#include "foundations/base/stop_signals.h"
#include "foundations/transport/address.h"
#include "tools/chorus/command.h"
#include "tools/chorus/option_checks.h"
#include "tools/chorus/relay_delay_line.h"

namespace chorus::tools {
namespace {

using Clock = std::chrono::steady_clock;

struct RelayOptions {
  std::string listen, upstream, source;
  double delay_ms = 0, jitter_ms = 0, loss = 0, rto_ms = -1;
  std::uint64_t seed = 1;
  std::size_t buffer_kb = 8192;
};

// Which port a relay address needs: one given (--listen, --upstream), or any (--source: left
// out or *, the system picks one).
enum class RelayPort { given, any };

// A relay address (HOST:PORT, tcp:// optional; HOST an IPv4 address) as a socket address,
// parsed as every chorus address is (parse_address).
sockaddr_in relay_endpoint(const std::string& text, RelayPort port, const char* option) {
  std::string address = text.find("://") == std::string::npos ? "tcp://" + text : text;
  if (port == RelayPort::any && address.find(':', 6) == std::string::npos) address += ":*";
  const auto fail = [&](const std::string& problem) {
    return UserError(fmt::format("{}: '{}': {}", option, text, problem));
  };
  if (port == RelayPort::given && address.ends_with(":*"))
    throw fail("give the port (HOST:PORT, as in 127.0.0.1:7000)");
  std::string problem;
  const auto a = parse_address(address, port == RelayPort::given ? AddressUse::connect : AddressUse::bind, &problem);
  if (!a) throw fail(problem);
  sockaddr_in out{};
  out.sin_family = AF_INET;
  if (a->scheme != "tcp" || inet_pton(AF_INET, a->host.c_str(), &out.sin_addr) != 1)
    throw fail("the relay takes an IPv4 address: HOST:PORT, as in 127.0.0.1:7000");
  out.sin_port = htons(static_cast<std::uint16_t>(a->port));
  return out;
}

double now_s() { return std::chrono::duration<double>(Clock::now().time_since_epoch()).count(); }

void set_socket_options(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// One direction of a relayed connection: bytes read from `from`, held, written to `to`.
struct Direction {
  struct Chunk {
    double release;
    std::string bytes;
    std::size_t sent = 0;
  };
  explicit Direction(const LinkImpairment& link, std::uint64_t seed) : line(link, seed) {}
  DelayLine line;
  std::deque<Chunk> queue;
  std::size_t queued = 0;
  bool source_closed = false;
  bool shut_down = false;  // the write side of `to` is shut down
  std::uint64_t bytes = 0;
};

struct Connection {
  Connection(int down, int up, const LinkImpairment& link, std::uint64_t seed)
      : down_fd(down), up_fd(up), to_up(link, seed), to_down(link, seed ^ 0x9e3779b97f4a7c15ull) {}
  ~Connection() {
    if (down_fd >= 0) ::close(down_fd);
    if (up_fd >= 0) ::close(up_fd);
  }
  int down_fd, up_fd;
  bool up_connected = false;
  bool failed = false;
  Direction to_up, to_down;
};

// Reads what `fd` has into `d` (bounded by the buffer); false on a hard error.
bool pull(int fd, Direction& d, std::size_t limit) {
  char buf[65536];
  while (d.queued < limit && !d.source_closed) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      const auto bytes = static_cast<std::size_t>(n);
      d.queue.push_back({d.line.release_time(now_s(), bytes), std::string(buf, bytes)});
      d.queued += bytes;
      continue;
    }
    if (n == 0) {
      d.source_closed = true;
      return true;
    }
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  }
  return true;
}

// Writes every released chunk it can; false on a hard error.
bool push(int fd, Direction& d) {
  const double now = now_s();
  while (!d.queue.empty() && d.queue.front().release <= now) {
    auto& c = d.queue.front();
    const ssize_t n = ::send(fd, c.bytes.data() + c.sent, c.bytes.size() - c.sent, MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    c.sent += static_cast<std::size_t>(n);
    d.bytes += static_cast<std::uint64_t>(n);
    if (c.sent < c.bytes.size()) return true;
    d.queued -= c.bytes.size();
    d.queue.pop_front();
  }
  if (d.queue.empty() && d.source_closed && !d.shut_down) {
    ::shutdown(fd, SHUT_WR);
    d.shut_down = true;
  }
  return true;
}

int run_relay(const RelayOptions& o) {
  const sockaddr_in listen_addr = relay_endpoint(o.listen, RelayPort::given, "--listen");
  const sockaddr_in upstream_addr = relay_endpoint(o.upstream, RelayPort::given, "--upstream");
  std::optional<sockaddr_in> source;
  if (!o.source.empty()) source = relay_endpoint(o.source, RelayPort::any, "--source");
  LinkImpairment link;
  link.delay_s = o.delay_ms / 1000.0;
  link.jitter_s = o.jitter_ms / 1000.0;
  link.loss = o.loss;
  // Linux: RTO = SRTT + max(200 ms, 4·RTTVAR); the round trip is twice the one-way delay.
  link.rto_s = o.rto_ms >= 0 ? o.rto_ms / 1000.0 : 0.2 + 2 * link.delay_s;
  const std::size_t limit = o.buffer_kb * 1024;

  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (listener < 0) throw UserError("relay: cannot create a socket");
  const int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(listener, reinterpret_cast<const sockaddr*>(&listen_addr), sizeof listen_addr) != 0 ||
      ::listen(listener, 128) != 0) {
    const std::string why = std::strerror(errno);
    ::close(listener);
    throw UserError(fmt::format("relay: cannot listen on {}: {}", o.listen, why));
  }

  const StopSignals stop_signals;  // SIGTERM or SIGINT: stop relaying, report, exit 0
  std::signal(SIGPIPE, SIG_IGN);
  fmt::print("relay {} -> {}: delay {} ms, jitter {} ms, loss {}, rto {:.0f} ms\n", o.listen, o.upstream,
             o.delay_ms, o.jitter_ms, o.loss, link.rto_s * 1000);
  std::fflush(stdout);

  std::list<std::unique_ptr<Connection>> conns;
  std::uint64_t accepted = 0, up_bytes = 0, down_bytes = 0, stalls = 0, seed = o.seed;
  std::vector<pollfd> fds;
  std::vector<Connection*> owners;
  while (!StopSignals::requested()) {
    fds.clear();
    owners.clear();
    fds.push_back({listener, POLLIN, 0});
    owners.push_back(nullptr);
    double next_release = INFINITY;
    const double now = now_s();
    for (auto& c : conns) {
      auto wants = [&](Direction& d) {
        if (!d.queue.empty()) {
          if (d.queue.front().release <= now) return true;
          next_release = std::min(next_release, d.queue.front().release);
        }
        return false;
      };
      short down_ev = 0, up_ev = 0;
      if (c->to_up.queued < limit && !c->to_up.source_closed) down_ev |= POLLIN;
      if (wants(c->to_down)) down_ev |= POLLOUT;
      if (!c->up_connected) {
        up_ev |= POLLOUT;
      } else {
        if (c->to_down.queued < limit && !c->to_down.source_closed) up_ev |= POLLIN;
        if (wants(c->to_up)) up_ev |= POLLOUT;
      }
      fds.push_back({c->down_fd, down_ev, 0});
      owners.push_back(c.get());
      fds.push_back({c->up_fd, up_ev, 0});
      owners.push_back(c.get());
    }
    timespec timeout{0, 200'000'000};  // wake regularly to see the stop flag
    if (std::isfinite(next_release)) {
      const double wait = std::clamp(next_release - now, 0.0, 0.2);
      timeout.tv_sec = static_cast<time_t>(wait);
      timeout.tv_nsec = static_cast<long>((wait - static_cast<double>(timeout.tv_sec)) * 1e9);
    }
    const int ready = ppoll(fds.data(), fds.size(), &timeout, nullptr);
    if (ready < 0 && errno != EINTR) throw UserError(fmt::format("relay: poll failed: {}", std::strerror(errno)));

    if (ready > 0 && (fds[0].revents & POLLIN)) {
      for (;;) {
        const int down = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
        if (down < 0) break;
        const int up = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (up < 0) {
          ::close(down);
          continue;
        }
        set_socket_options(down);
        set_socket_options(up);
        if (source && ::bind(up, reinterpret_cast<const sockaddr*>(&*source), sizeof *source) != 0) {
          ::close(down);
          ::close(up);
          continue;
        }
        const int r = ::connect(up, reinterpret_cast<const sockaddr*>(&upstream_addr), sizeof upstream_addr);
        if (r != 0 && errno != EINPROGRESS) {
          ::close(down);
          ::close(up);
          continue;
        }
        ++accepted;
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        auto c = std::make_unique<Connection>(down, up, link, seed);
        c->up_connected = r == 0;
        conns.push_back(std::move(c));
      }
    }

    // Every connection, ready or not: released chunks are due by the clock, not by events.
    for (std::size_t i = 1; i < fds.size(); i += 2) {
      Connection& c = *owners[i];
      const short down_rev = ready > 0 ? fds[i].revents : 0;
      const short up_rev = ready > 0 ? fds[i + 1].revents : 0;
      if (!c.up_connected && (up_rev & (POLLOUT | POLLERR | POLLHUP))) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c.up_fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) c.failed = true;
        else c.up_connected = true;
      }
      if (c.failed) continue;
      if ((down_rev & (POLLIN | POLLHUP | POLLERR)) && !pull(c.down_fd, c.to_up, limit)) c.failed = true;
      if (c.up_connected && (up_rev & (POLLIN | POLLHUP | POLLERR)) && !pull(c.up_fd, c.to_down, limit))
        c.failed = true;
      if (c.up_connected && !push(c.up_fd, c.to_up)) c.failed = true;
      if (!push(c.down_fd, c.to_down)) c.failed = true;
    }
    for (auto it = conns.begin(); it != conns.end();) {
      Connection& c = **it;
      const bool finished = c.to_up.shut_down && c.to_down.shut_down;
      if (c.failed || finished) {
        up_bytes += c.to_up.bytes;
        down_bytes += c.to_down.bytes;
        stalls += c.to_up.line.stalls() + c.to_down.line.stalls();
        it = conns.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& c : conns) {
    up_bytes += c->to_up.bytes;
    down_bytes += c->to_down.bytes;
    stalls += c->to_up.line.stalls() + c->to_down.line.stalls();
  }
  ::close(listener);
  fmt::print("relay {}: {} connections, {} bytes upstream, {} bytes back, {} loss stalls\n", o.listen, accepted,
             up_bytes, down_bytes, stalls);
  return 0;
}

const bool registered = register_command(
    {"relay",
     "Relay TCP connections with a one-way delay, jitter and loss (the link emulation chorus compare "
     "uses where the kernel has no netem)",
     [](CLI::App& app) -> Action {
       auto o = std::make_shared<RelayOptions>();
       app.add_option("--listen", o->listen, "IPv4 address to accept on (HOST:PORT)")->required();
       app.add_option("--upstream", o->upstream, "IPv4 address each connection is relayed to (HOST:PORT)")
           ->required();
       app.add_option("--source", o->source, "Source address of the upstream connections (HOST or HOST:PORT)");
       app.add_option("--delay-ms", o->delay_ms, "One-way delay in each direction")
           ->check(at_least(0.0))
           ->capture_default_str();
       app.add_option("--jitter-ms", o->jitter_ms, "Uniform jitter around the delay")
           ->check(at_least(0.0))
           ->capture_default_str();
       app.add_option("--loss", o->loss, "Probability that a segment is lost")
           ->check(in_range(0.0, 1.0))
           ->capture_default_str();
       app.add_option("--rto-ms", o->rto_ms, "Stall of a lost segment (default: 200 + 2 x delay)")
           ->check(at_least(0.0));
       app.add_option("--seed", o->seed, "Seed of jitter and loss")->capture_default_str();
       app.add_option("--buffer-kb", o->buffer_kb, "Bytes held per direction before reading stops, KiB")
           ->check(at_least(std::size_t{64}))
           ->capture_default_str();
       return [o] { return run_relay(*o); };
     }});

}  // namespace
}  // namespace chorus::tools
