// Bad input against a chorus peer in its own process, over real sockets. The attacker is a raw
// ZeroMQ socket in this process; after each attack a well-behaved peer (a chorus transport with
// the swarm key) must still complete an exchange with the attacked one within a bounded time.
// Every test fails if the peer crashes, accepts the input (no rejection counted for the reason,
// or a reply to the bad frame), or stops answering well-behaved peers.
#include <doctest/doctest.h>

#include <zmq.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "foundations/crypto/frame_cipher.h"
#include "foundations/crypto/swarm_key.h"
#include "foundations/transport/address.h"
#include "foundations/transport/zmq_transport.h"
#include "foundations/wire/wire.h"
#include "tests/test_util.h"
#include "tests/transport/peer_process.h"
#include "tests/transport/peer_protocol.h"

using namespace chorus;
using namespace std::chrono_literals;
namespace peer = chorus_test::peer;
using Bytes = std::vector<std::byte>;

namespace {

Bytes text_bytes(const std::string& s) {
  Bytes b(s.size());
  std::memcpy(b.data(), s.data(), s.size());
  return b;
}
std::string to_text(std::span<const std::byte> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

std::string tail(const std::string& s) { return s.size() > 1500 ? s.substr(s.size() - 1500) : s; }

// A swarm with one attacked peer (own process) and one well-behaved client.
struct Swarm {
  chorus_test::TempDir dir{"chorus-attack"};
  SwarmKey key = SwarmKey::generate();
  std::unique_ptr<chorus_test::PeerProcess> victim;
  std::unique_ptr<Transport> client;

  explicit Swarm(std::vector<std::string> extra = {}) {
    key.save(dir / "swarm.key");
    std::vector<std::string> args{"--bind", "tcp://127.0.0.1:*", "--key", dir / "swarm.key"};
    args.insert(args.end(), extra.begin(), extra.end());
    victim = std::make_unique<chorus_test::PeerProcess>(args, dir / "victim.log");
    TransportConfig c;
    c.address = "tcp://127.0.0.1:*";
    c.key = key;
    c.log = [](const std::string&) {};
    client = make_zmq_transport(c);
  }

  // One echo round trip with a fresh nonce; replies to anything else are skipped.
  bool exchange(std::chrono::milliseconds within = 5000ms) {
    static std::atomic<int> counter{0};
    const std::string nonce = "echo-" + std::to_string(++counter);
    const auto deadline = std::chrono::steady_clock::now() + within;
    if (client->send(victim->address(), peer::kEcho, text_bytes(nonce), within) != SendStatus::kOk) return false;
    while (std::chrono::steady_clock::now() < deadline) {
      auto m = client->receive(100ms, TypeRange::only(peer::kEchoReply));
      if (m && to_text(m->bytes()) == nonce) return true;
    }
    return false;
  }

  nlohmann::json stats() {
    if (client->send(victim->address(), peer::kStats, {}, 5s) != SendStatus::kOk) return {};
    auto m = client->receive(5s, TypeRange::only(peer::kStatsReply));
    if (!m) return {};
    return nlohmann::json::parse(to_text(m->bytes()));
  }

  // Waits (bounded) until the victim has counted at least n rejections for `reason`.
  std::uint64_t wait_count(const char* reason, std::uint64_t n, std::chrono::milliseconds within = 5000ms) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    std::uint64_t got = 0;
    do {
      const auto s = stats();
      got = s.contains(reason) ? s[reason].get<std::uint64_t>() : 0;
      if (got >= n) return got;
      std::this_thread::sleep_for(20ms);
    } while (std::chrono::steady_clock::now() < deadline);
    return got;
  }

  void check_alive_and_answering() {
    const bool alive = victim->alive();
    if (!alive) MESSAGE("victim exited with code " << victim->exit_code() << "; its log ends:\n" << tail(victim->stderr_text()));
    CHECK(alive);
    CHECK(exchange());
  }
};

class Attacker {
 public:
  explicit Attacker(const std::string& to) : push_(ctx_, zmq::socket_type::push) {
    push_.set(zmq::sockopt::linger, 5000);  // what was sent gets there before the socket closes
    push_.set(zmq::sockopt::sndtimeo, 1000);
    push_.connect(to);
  }
  bool send(const std::vector<Bytes>& parts) {
    for (std::size_t i = 0; i < parts.size(); ++i) {
      zmq::message_t m(parts[i].data(), parts[i].size());
      if (!push_.send(m, i + 1 < parts.size() ? zmq::send_flags::sndmore : zmq::send_flags::none)) return false;
    }
    return true;
  }

 private:
  zmq::context_t ctx_{1};
  zmq::socket_t push_;
};

// A frame made with this process's own keys, so that each field can be set at will.
struct Frame {
  wire::Header h;
  std::string address = "tcp://127.0.0.1:1";
  Bytes body;
  std::optional<wire::ParamHeader> params;

  std::vector<Bytes> seal(const SwarmKey* key) const {
    Bytes head(wire::head_bytes(h.kind, h.protection, address.size()));
    wire::encode_head(h, address, params ? &*params : nullptr, head);
    Bytes out = body;
    if (key) {
      FrameCipher c(*key);
      c.seal(h, head, body, h.protection == wire::Protection::kEncrypted ? out.data() : nullptr);
    }
    return {head, out};
  }
};

Frame genuine_frame(const SwarmKey& key, std::uint16_t type, Bytes body) {
  Frame f;
  f.h.type = type;
  f.h.swarm_id = key.swarm_id();
  f.h.sender_id = 0x5eed;
  f.h.incarnation = wall_clock_us();
  f.h.sequence = 1;
  f.h.timestamp_us = wall_clock_us();
  f.h.payload_bytes = body.size();
  f.h.protection = wire::Protection::kEncrypted;
  f.h.cipher = FrameCipher::best_available();
  f.body = std::move(body);
  return f;
}

}  // namespace

TEST_CASE("a well-behaved peer exchanges with the test peer, and foreign frames leave it answering") {
  Swarm s;
  REQUIRE(s.exchange());
  // A genuine frame made by hand is accepted too (so the crafted-frame tests below test the
  // one field they change).
  Attacker a(s.victim->address());
  Frame f = genuine_frame(s.key, peer::kEcho, text_bytes("hand-made"));
  f.address = s.client->address();
  REQUIRE(a.send(f.seal(&s.key)));
  auto reply = s.client->receive(5s, TypeRange::only(peer::kEchoReply));
  REQUIRE(reply);
  CHECK(to_text(reply->bytes()) == "hand-made");
  CHECK(s.stats()["auth_failed"] == 0);
}

TEST_CASE("truncated frames are refused") {
  Swarm s;
  Attacker a(s.victim->address());
  const auto good = genuine_frame(s.key, peer::kEcho, text_bytes("x")).seal(&s.key);
  int sent = 0;
  for (std::size_t n : {0, 3, 7, 40, 63, 64, 70}) {
    Bytes head(good[0].begin(), good[0].begin() + static_cast<std::ptrdiff_t>(n));
    REQUIRE(a.send({head, good[1]}));
    ++sent;
  }
  REQUIRE(a.send({good[0]}));  // the body part missing
  ++sent;
  CHECK(s.wait_count("truncated", sent) == static_cast<std::uint64_t>(sent));
  s.check_alive_and_answering();
}

TEST_CASE("wrong magic is refused") {
  Swarm s;
  Attacker a(s.victim->address());
  auto parts = genuine_frame(s.key, peer::kEcho, text_bytes("x")).seal(&s.key);
  parts[0][0] = std::byte{'Z'};
  REQUIRE(a.send(parts));
  REQUIRE(a.send({text_bytes("GET / HTTP/1.1\r\n\r\n"), {}}));
  CHECK(s.wait_count("bad_magic", 2) == 2);
  s.check_alive_and_answering();
}

TEST_CASE("a wrong wire version is refused with a message naming both versions") {
  Swarm s;
  Attacker a(s.victim->address());
  Frame f = genuine_frame(s.key, peer::kEcho, text_bytes("x"));
  f.h.version = wire::kVersion + 1;
  REQUIRE(a.send(f.seal(&s.key)));
  CHECK(s.wait_count("bad_version", 1) == 1);
  s.check_alive_and_answering();
  const std::string log = s.victim->stderr_text();
  CHECK(log.find("wire version " + std::to_string(wire::kVersion + 1)) != std::string::npos);
  CHECK(log.find("newer than this chorus speaks (" + std::to_string(wire::kVersion) + ")") != std::string::npos);
}

TEST_CASE("length fields larger than the frame are refused") {
  Swarm s;
  Attacker a(s.victim->address());
  {
    Frame f = genuine_frame(s.key, peer::kEcho, text_bytes("short"));
    f.h.payload_bytes = 5000;  // sealed consistently, but the body has 5 bytes
    REQUIRE(a.send(f.seal(&s.key)));
  }
  {
    auto parts = genuine_frame(s.key, peer::kEcho, text_bytes("x")).seal(&s.key);
    parts[0][59] = std::byte{255};  // address length past the end of the head
    REQUIRE(a.send(parts));
  }
  {
    Frame f = genuine_frame(s.key, peer::kParams, Bytes(16));
    f.h.kind = wire::PayloadKind::kParams;
    wire::ParamHeader p;
    p.count = 1000;  // 4000 bytes claimed, 16 present
    p.total_elements = 1000;
    f.params = p;
    REQUIRE(a.send(f.seal(&s.key)));
  }
  CHECK(s.wait_count("bad_length", 2) == 2);
  CHECK(s.wait_count("truncated", 1) == 1);
  s.check_alive_and_answering();
}

TEST_CASE("oversized frames are refused, and a part beyond ZMQ_MAXMSGSIZE costs only its sender") {
  Swarm s({"--max-payload", "65536"});
  {
    Attacker a(s.victim->address());
    Frame f = genuine_frame(s.key, peer::kEcho, Bytes(8));
    f.h.payload_bytes = 1ull << 40;
    auto parts = f.seal(&s.key);
    REQUIRE(a.send(parts));
    CHECK(s.wait_count("oversized", 1) == 1);
  }
  {
    Attacker a(s.victim->address());
    REQUIRE(a.send({genuine_frame(s.key, peer::kEcho, text_bytes("x")).seal(&s.key)[0], Bytes(1 << 20)}));
    s.check_alive_and_answering();
    // Anything more on the dropped connection never arrives; the peer does not care.
    a.send({text_bytes("garbage"), {}});
  }
  s.check_alive_and_answering();
}

TEST_CASE("frames under another swarm key are refused") {
  Swarm s;
  {  // a whole peer with another key: wrong swarm, and no reply
    TransportConfig c;
    c.address = "tcp://127.0.0.1:*";
    c.key = SwarmKey::generate();
    c.log = [](const std::string&) {};
    auto stranger = make_zmq_transport(c);
    REQUIRE(stranger->send(s.victim->address(), peer::kEcho, text_bytes("let me in"), 5s) == SendStatus::kOk);
    CHECK(s.wait_count("wrong_swarm", 1) == 1);
    CHECK_FALSE(stranger->receive(300ms));
  }
  {  // the right swarm id, sealed with another key: fails authentication
    Attacker a(s.victim->address());
    const SwarmKey other = SwarmKey::generate();
    Frame f = genuine_frame(s.key, peer::kEcho, text_bytes("forged"));
    REQUIRE(a.send(f.seal(&other)));
    CHECK(s.wait_count("auth_failed", 1) == 1);
  }
  {  // a peer without a key (on loopback): another swarm id, unprotected
    TransportConfig c;
    c.address = "tcp://127.0.0.1:*";
    c.log = [](const std::string&) {};
    auto keyless = make_zmq_transport(c);
    REQUIRE(keyless->send(s.victim->address(), peer::kEcho, text_bytes("hi"), 5s) == SendStatus::kOk);
    CHECK(s.wait_count("wrong_swarm", 2) == 2);
  }
  {  // the right swarm id, no protection: a downgrade attempt
    Attacker a(s.victim->address());
    Frame f = genuine_frame(s.key, peer::kEcho, text_bytes("plain"));
    f.h.protection = wire::Protection::kNone;
    f.h.cipher = wire::Cipher::kNone;
    REQUIRE(a.send(f.seal(nullptr)));
    CHECK(s.wait_count("security_mismatch", 1) == 1);
  }
  s.check_alive_and_answering();
}

TEST_CASE("replayed frames are refused") {
  Swarm s;
  // Capture a genuine frame of the client on its way to a raw socket...
  zmq::context_t ctx(1);
  zmq::socket_t tap(ctx, zmq::socket_type::pull);
  tap.set(zmq::sockopt::rcvtimeo, 5000);
  tap.bind("tcp://127.0.0.1:*");
  const std::string tap_address = tap.get(zmq::sockopt::last_endpoint);
  REQUIRE(s.client->send(tap_address, peer::kEcho, text_bytes("captured"), 5s) == SendStatus::kOk);
  zmq::message_t head, body;
  REQUIRE(tap.recv(head));
  REQUIRE(head.more());
  REQUIRE(tap.recv(body));
  const Bytes h(static_cast<std::byte*>(head.data()), static_cast<std::byte*>(head.data()) + head.size());
  const Bytes b(static_cast<std::byte*>(body.data()), static_cast<std::byte*>(body.data()) + body.size());
  // ...deliver it to the victim (accepted once: it is genuine and new there)...
  Attacker a(s.victim->address());
  REQUIRE(a.send({h, b}));
  auto reply = s.client->receive(5s, TypeRange::only(peer::kEchoReply));
  REQUIRE(reply);
  CHECK(to_text(reply->bytes()) == "captured");
  // ...and again: refused, and not answered.
  REQUIRE(a.send({h, b}));
  REQUIRE(a.send({h, b}));
  CHECK(s.wait_count("replay", 2) == 2);
  CHECK_FALSE(s.client->receive(200ms, TypeRange::only(peer::kEchoReply)));

  // A frame from an older incarnation of a sender already heard from is refused.
  Frame f = genuine_frame(s.key, peer::kEcho, text_bytes("new"));
  f.address = s.client->address();
  REQUIRE(a.send(f.seal(&s.key)));
  REQUIRE(s.client->receive(5s, TypeRange::only(peer::kEchoReply)));
  f.h.incarnation -= 1;
  f.h.sequence = 2;
  REQUIRE(a.send(f.seal(&s.key)));
  CHECK(s.wait_count("stale_incarnation", 1) == 1);
  // And one whose timestamp lies outside the time window.
  Frame old = genuine_frame(s.key, peer::kEcho, text_bytes("old"));
  old.h.timestamp_us -= 3600ull * 1000 * 1000;
  REQUIRE(a.send(old.seal(&s.key)));
  CHECK(s.wait_count("outside_time_window", 1) == 1);
  s.check_alive_and_answering();
}

TEST_CASE("parameter payloads with NaN or infinity are refused") {
  Swarm s;
  std::vector<float> values(3000, 0.5f);
  ParamSend meta;
  meta.type = peer::kParams;
  meta.chunk_elements = 1000;
  values[1500] = std::numeric_limits<float>::quiet_NaN();
  REQUIRE(s.client->send_params(s.victim->address(), meta, values, 5s).ok());
  values[1500] = 0.5f;
  values[2999] = -std::numeric_limits<float>::infinity();
  REQUIRE(s.client->send_params(s.victim->address(), meta, values, 5s).ok());
  CHECK(s.wait_count("non_finite", 2) == 2);
  // Four finite chunks were answered (two per send), the two bad ones not.
  int replies = 0;
  while (auto m = s.client->receive(300ms, TypeRange::only(peer::kParamsReply))) {
    CHECK(to_text(m->bytes()) == "count=1000 sum=500");
    ++replies;
  }
  CHECK(replies == 4);
  values[2999] = 0.5f;
  REQUIRE(s.client->send_params(s.victim->address(), meta, std::span(values).first(1000), 5s).ok());
  auto m = s.client->receive(5s, TypeRange::only(peer::kParamsReply));
  REQUIRE(m);
  CHECK(to_text(m->bytes()) == "count=1000 sum=500");
  s.check_alive_and_answering();
}

TEST_CASE("a garbage flood from a raw socket neither stops the peer nor floods its log") {
  Swarm s;
  REQUIRE(s.exchange());
  std::atomic<bool> done{false};
  std::atomic<int> sent{0};
  std::thread flood([&] {
    Attacker a(s.victim->address());
    std::mt19937_64 rng(7);
    const auto good = genuine_frame(s.key, peer::kEcho, text_bytes("template")).seal(&s.key);
    const auto end = std::chrono::steady_clock::now() + 3s;
    for (int i = 0; i < 20000 && std::chrono::steady_clock::now() < end; ++i) {
      std::vector<Bytes> parts;
      const int kind = static_cast<int>(rng() % 3);
      if (kind == 0) {  // random parts of random bytes
        const int n = 1 + static_cast<int>(rng() % 3);
        for (int p = 0; p < n; ++p) {
          Bytes b(rng() % 300);
          for (auto& x : b) x = static_cast<std::byte>(rng());
          parts.push_back(std::move(b));
        }
      } else {  // a genuine frame with one to three bytes changed
        // Each change flips at least one bit of a byte no other change touched: writing a random
        // value could leave the byte as it was (the head holds the clock, so which frames that
        // hits varies from run to run) and send the genuine frame, which is rightly accepted.
        parts = good;
        std::vector<std::pair<std::size_t, std::size_t>> touched;
        for (int k = 0; k < 3; ++k) {
          const std::size_t which = rng() % 2;
          if (parts[which].empty()) continue;
          const std::size_t at = rng() % parts[which].size();
          const auto flip = static_cast<std::byte>(1 + rng() % 255);
          if (std::find(touched.begin(), touched.end(), std::pair{which, at}) != touched.end()) continue;
          touched.emplace_back(which, at);
          parts[which][at] ^= flip;
        }
        if (touched.empty()) parts[0][0] ^= std::byte{1};
      }
      if (a.send(parts)) ++sent;
    }
    done = true;
  });
  int exchanges = 0, failed = 0;
  while (!done) {
    if (s.exchange(5000ms)) ++exchanges;
    else ++failed;
  }
  flood.join();
  MESSAGE("flood: " << sent.load() << " frames sent, " << exchanges << " exchanges completed meanwhile");
  CHECK(failed == 0);
  CHECK(exchanges > 0);
  CHECK(sent > 1000);
  // Every garbage frame was refused and counted (a mutated frame may at best be a replay).
  std::uint64_t total = 0;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    total = 0;
    const nlohmann::json counts = s.stats();
    for (const auto& [reason, count] : counts.items()) total += count.get<std::uint64_t>();
    if (total >= static_cast<std::uint64_t>(sent)) break;
    std::this_thread::sleep_for(50ms);
  }
  CHECK(total >= static_cast<std::uint64_t>(sent));
  s.check_alive_and_answering();
  // Logged once per sender and reason: a handful of lines, not thousands.
  const std::string log = s.victim->stderr_text();
  const auto lines = static_cast<int>(std::count(log.begin(), log.end(), '\n'));
  MESSAGE("victim log lines: " << lines << "\n" << log.substr(0, 1200));
  CHECK(lines < 40);
}

TEST_CASE("a peer killed in the middle of sending leaves no half frame and no hang") {
  chorus_test::TempDir dir{"chorus-kill"};
  const SwarmKey key = SwarmKey::generate();
  key.save(dir / "swarm.key");
  TransportConfig c;
  c.address = "tcp://127.0.0.1:*";
  c.key = key;
  c.log = [](const std::string&) {};
  auto receiver = make_zmq_transport(c);
  chorus_test::PeerProcess sender({"--key", dir / "swarm.key", "--stream-to", receiver->address()},
                                  dir / "sender.log");
  auto first = receiver->receive(10s);  // the stream is flowing
  REQUIRE(first);
  CHECK(first->floats().size() == (4u << 20));
  std::this_thread::sleep_for(7ms);  // somewhere inside a later message
  sender.kill_now();
  const auto t0 = std::chrono::steady_clock::now();
  int complete = 0;
  while (auto m = receiver->receive(1s)) {
    REQUIRE(m->params);
    CHECK(m->floats().size() == (4u << 20));
    ++complete;
  }
  CHECK(std::chrono::steady_clock::now() - t0 < 30s);
  MESSAGE(complete << " more complete messages arrived after the kill");
  CHECK(receiver->rejections().total() == 0);
  // The receiver talks to others as before.
  c.log = [](const std::string&) {};
  auto other = make_zmq_transport(c);
  REQUIRE(other->send(receiver->address(), peer::kEcho, text_bytes("after"), 5s) == SendStatus::kOk);
  auto m = receiver->receive(5s);
  REQUIRE(m);
  CHECK(to_text(m->bytes()) == "after");
}
