// The Transport interface on both implementations: the in-process hub and ZeroMQ sockets
// (tcp and ipc), with each security setting. The same test code drives all of them.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <numeric>
#include <thread>

#include "foundations/base/error.h"
#include "foundations/crypto/frame_cipher.h"
#include "foundations/crypto/swarm_key.h"
#include "foundations/transport/address.h"
#include "foundations/transport/inproc_transport.h"
#include "foundations/transport/zmq_transport.h"
#include "tests/test_util.h"

using namespace chorus;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

enum class Kind { kInproc, kZmqTcp, kZmqIpc };
const char* kind_name(Kind k) { return k == Kind::kInproc ? "inproc" : k == Kind::kZmqTcp ? "zmq-tcp" : "zmq-ipc"; }

// Makes transports of one kind; every transport it makes can reach the others.
class Net {
 public:
  explicit Net(Kind kind) : kind_(kind) {}
  std::unique_ptr<Transport> make(TransportConfig c = {}) {
    if (!c.log) c.log = [this](const std::string& line) {
      std::lock_guard lock(mutex_);
      log_.push_back(line);
    };
    const int n = ++count_;
    switch (kind_) {
      case Kind::kInproc:
        if (c.address.empty()) c.address = "inproc://peer-" + std::to_string(n);
        return make_inproc_transport(hub_, c);
      case Kind::kZmqTcp:
        if (c.address.empty()) c.address = "tcp://127.0.0.1:*";
        return make_zmq_transport(c);
      case Kind::kZmqIpc:
        if (c.address.empty()) c.address = "ipc://" + (dir_ / ("peer-" + std::to_string(n)));
        return make_zmq_transport(c);
    }
    return nullptr;
  }
  std::vector<std::string> log() {
    std::lock_guard lock(mutex_);
    return log_;
  }
  std::string nobody() const {  // an address nobody listens at
    return kind_ == Kind::kInproc ? "inproc://nobody" : kind_ == Kind::kZmqTcp ? "tcp://127.0.0.1:1"
                                                                                : "ipc://" + (dir_ / "nobody");
  }

 private:
  Kind kind_;
  std::shared_ptr<InprocHub> hub_ = std::make_shared<InprocHub>();
  chorus_test::TempDir dir_{"chorus-ipc"};
  int count_ = 0;
  std::mutex mutex_;
  std::vector<std::string> log_;
};

std::vector<std::byte> text(const std::string& s) {
  std::vector<std::byte> b(s.size());
  std::memcpy(b.data(), s.data(), s.size());
  return b;
}
std::string str(std::span<const std::byte> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

TransportConfig keyed(const SwarmKey& key, bool encrypt) {
  TransportConfig c;
  c.key = key;
  c.encrypt = encrypt;
  return c;
}

const Kind kKinds[] = {Kind::kInproc, Kind::kZmqTcp, Kind::kZmqIpc};

// The security settings every exchange test runs with: 0 no key, 1 authenticated, 2 encrypted.
constexpr int kSecurityModes = 3;
TransportConfig security(const SwarmKey& key, int mode) { return mode == 0 ? TransportConfig{} : keyed(key, mode == 2); }

// Runs `body(a, b)` once for every kind of transport and every security setting, with two fresh
// transports (unique_ptrs) of that kind and setting; the kind and setting are named in any
// failure's message.
template <typename Body>
void for_every_pair(Body body) {
  const SwarmKey key = SwarmKey::generate();
  for (Kind kind : kKinds)
    for (int mode = 0; mode < kSecurityModes; ++mode) {
      CAPTURE(std::string(kind_name(kind)));
      CAPTURE(mode);
      Net net(kind);
      const TransportConfig c = security(key, mode);
      auto a = net.make(c), b = net.make(c);
      body(a, b);
    }
}

}  // namespace

TEST_CASE("request and reply by the sender's address, with every security setting") {
  for_every_pair([](auto& a, auto& b) {
    REQUIRE(a->send(b->address(), 7, text("hello"), 5s) == SendStatus::kOk);
    auto m = b->receive(5s);
    REQUIRE(m);
    CHECK(m->type == 7);
    CHECK(str(m->bytes()) == "hello");
    CHECK(m->from == a->address());
    CHECK(m->sender_id == a->id());
    CHECK(m->incarnation == a->incarnation());
    CHECK_FALSE(m->params);
    REQUIRE(b->send(m->from, 8, text("world"), 5s) == SendStatus::kOk);
    auto r = a->receive(5s);
    REQUIRE(r);
    CHECK(str(r->bytes()) == "world");
    CHECK(r->sequence >= 1);
    CHECK(a->rejections().total() == 0);
    CHECK(b->rejections().total() == 0);
    // An empty payload is a message too.
    REQUIRE(a->send(b->address(), 9, {}, 5s) == SendStatus::kOk);
    auto e = b->receive(5s);
    REQUIRE(e);
    CHECK(e->bytes().empty());
  });
}

TEST_CASE("parameters arrive as chunks that reassemble exactly") {
  for_every_pair([](auto& a, auto& b) {
    std::vector<float> x(10001);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(static_cast<float>(i)) * 100.f;
    ParamSend meta;
    meta.type = 0x200;
    meta.step = 314;
    meta.tag = 9;
    meta.offset = 7;
    meta.total_elements = 20000;
    meta.chunk_elements = 1000;
    const SendResult sent = a->send_params(b->address(), meta, x, 5s);
    REQUIRE(sent.ok());
    CHECK(sent.messages_sent == 11);
    std::vector<float> got(20000, -1.f);
    std::vector<bool> seen(11, false);
    for (int i = 0; i < 11; ++i) {
      auto m = b->receive(5s);
      REQUIRE(m);
      REQUIRE(m->params);
      const auto& p = *m->params;
      CHECK(p.step == 314);
      CHECK(p.tag == 9);
      CHECK(p.total_elements == 20000);
      CHECK(p.chunk_count == 11);
      REQUIRE(p.chunk_index < 11);
      CHECK_FALSE(seen[p.chunk_index]);
      seen[p.chunk_index] = true;
      CHECK(p.offset == 7 + 1000 * p.chunk_index);
      CHECK(p.count == (p.chunk_index == 10 ? 1 : 1000));
      const auto f = m->floats();
      REQUIRE(f.size() == p.count);
      CHECK(reinterpret_cast<std::uintptr_t>(f.data()) % alignof(float) == 0);
      std::copy(f.begin(), f.end(), got.begin() + static_cast<std::ptrdiff_t>(p.offset));
    }
    CHECK(std::equal(x.begin(), x.end(), got.begin() + 7));
    CHECK(got[6] == -1.f);
    CHECK(got[7 + x.size()] == -1.f);
    CHECK(sent.completion.wait_for(5s));
    // An empty buffer is one empty chunk.
    REQUIRE(a->send_params(b->address(), meta, {}, 5s).ok());
    auto e = b->receive(5s);
    REQUIRE(e);
    REQUIRE(e->params);
    CHECK(e->params->count == 0);
    CHECK(e->params->chunk_count == 1);
  });
}

TEST_CASE("zero-copy sends report when the caller's buffer is free again") {
  Net net(Kind::kZmqTcp);
  const SwarmKey key = SwarmKey::generate();
  for (int mode = 0; mode < kSecurityModes; ++mode) {
    const TransportConfig c = security(key, mode);
    auto a = net.make(c), b = net.make(c);
    std::vector<float> x(1 << 20, 1.5f);
    ParamSend meta;
    meta.type = 1;
    meta.chunk_elements = 1 << 16;
    const SendResult sent = a->send_params(b->address(), meta, x, 10s);
    REQUIRE(sent.ok());
    CHECK(sent.messages_sent == 16);
    if (mode == 2) CHECK(sent.completion.done());  // the ciphertext is a copy already
    std::size_t elements = 0;
    while (elements < x.size()) {
      auto m = b->receive(5s);
      REQUIRE(m);
      for (float v : m->floats()) REQUIRE(v == 1.5f);
      elements += m->params->count;
    }
    CHECK(sent.completion.wait_for(5s));
    CHECK(sent.completion.done());
  }
}

TEST_CASE("receivers with different type ranges each get their own messages, in order") {
  for (Kind kind : kKinds) {
    CAPTURE(std::string(kind_name(kind)));
    Net net(kind);
    auto a = net.make(), b = net.make();
    constexpr int kEach = 200;
    std::vector<int> low, high;
    std::thread t1([&] {
      while (static_cast<int>(low.size()) < kEach) {
        auto m = b->receive(5s, {100, 199});
        if (!m) break;
        CHECK(m->type >= 100);
        CHECK(m->type <= 199);
        low.push_back(std::stoi(str(m->bytes())));
      }
    });
    std::thread t2([&] {
      while (static_cast<int>(high.size()) < kEach) {
        auto m = b->receive(5s, TypeRange::only(250));
        if (!m) break;
        CHECK(m->type == 250);
        high.push_back(std::stoi(str(m->bytes())));
      }
    });
    for (int i = 0; i < kEach; ++i) {
      REQUIRE(a->send(b->address(), 150, text(std::to_string(i)), 5s) == SendStatus::kOk);
      REQUIRE(a->send(b->address(), 250, text(std::to_string(i)), 5s) == SendStatus::kOk);
    }
    t1.join();
    t2.join();
    REQUIRE(low.size() == kEach);
    REQUIRE(high.size() == kEach);
    for (int i = 0; i < kEach; ++i) {
      CHECK(low[i] == i);
      CHECK(high[i] == i);
    }
  }
}

TEST_CASE("a receiver waiting while another one pulls and leaves still gets its messages") {
  // A receive() caller that finds nobody pulling pulls from the link itself and, having its
  // message, returns without handing the link on; whoever waits meanwhile must still be served
  // (by the next puller or the transport's own thread), in order, with every security setting.
  for_every_pair([](auto& a, auto& b) {
    constexpr int kRounds = 30;
    std::vector<int> waited;
    std::thread waiter([&] {
      while (static_cast<int>(waited.size()) < kRounds) {
        auto m = b->receive(10s, TypeRange::only(250));
        if (!m) break;
        waited.push_back(std::stoi(str(m->bytes())));
      }
    });
    for (int i = 0; i < kRounds; ++i) {
      // This thread pulls its own message and leaves; then one arrives for the waiter alone.
      REQUIRE(a->send(b->address(), 150, text(std::to_string(i)), 5s) == SendStatus::kOk);
      auto mine = b->receive(5s, TypeRange::only(150));
      REQUIRE(mine);
      CHECK(str(mine->bytes()) == std::to_string(i));
      REQUIRE(a->send(b->address(), 250, text(std::to_string(i)), 5s) == SendStatus::kOk);
      if (i % 3 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(i % 7));
      // A poll that finds nothing of its type must neither block nor take the waiter's message.
      CHECK_FALSE(b->receive(0ms, TypeRange::only(160)));
    }
    waiter.join();
    REQUIRE(waited.size() == kRounds);
    for (int i = 0; i < kRounds; ++i) CHECK(waited[i] == i);
  });
}

TEST_CASE("every wait is bounded: empty receive, unreachable and dead peers") {
  for (Kind kind : kKinds) {
    CAPTURE(std::string(kind_name(kind)));
    Net net(kind);
    auto a = net.make();
    auto t0 = Clock::now();
    CHECK_FALSE(a->receive(200ms));
    auto took = Clock::now() - t0;
    CHECK(took >= 190ms);
    CHECK(took < 2s);

    t0 = Clock::now();
    const SendStatus s = a->send(net.nobody(), 1, text("anyone?"), 300ms);
    CHECK(s != SendStatus::kOk);
    CHECK(Clock::now() - t0 < 2s);
    if (kind == Kind::kInproc) CHECK(s == SendStatus::kUnreachable);
    else CHECK(s == SendStatus::kTimeout);

    // A peer that dies: sends to it fail within their timeout, parameter sends too.
    auto b = net.make();
    const std::string b_address = b->address();
    REQUIRE(a->send(b_address, 1, text("alive?"), 5s) == SendStatus::kOk);
    REQUIRE(b->receive(5s));
    b.reset();
    std::vector<float> x(1 << 18, 2.f);
    ParamSend meta;
    meta.chunk_elements = 1 << 14;
    t0 = Clock::now();
    for (int i = 0; i < 50; ++i) {
      const SendResult r = a->send_params(b_address, meta, x, 200ms);
      if (!r.ok()) break;
    }
    CHECK(Clock::now() - t0 < 15s);
    t0 = Clock::now();
    CHECK(a->send_params(b_address, meta, x, 300ms).status != SendStatus::kOk);
    CHECK(Clock::now() - t0 < 3s);
    // Dropping the connection releases whatever zero-copy buffers were still queued.
    a->forget(b_address);
    const SendResult last = a->send_params(b_address, meta, x, 100ms);
    a->forget(b_address);
    CHECK(last.completion.wait_for(5s));
  }
}

TEST_CASE("a transport closed right after a large send leaves the receiver unharmed") {
  Net net(Kind::kZmqTcp);
  auto b = net.make();
  std::vector<float> x(4 << 20, 3.f);  // 16 MiB, one message; outlives the sender
  {
    auto a = net.make();
    ParamSend meta;
    meta.chunk_elements = x.size();
    REQUIRE(a->send_params(b->address(), meta, x, 5s).ok());
    // `a` closes at once: within its linger the frame gets out in full, or not at all.
  }
  while (auto m = b->receive(500ms)) {
    REQUIRE(m->params);
    CHECK(m->floats().size() == (4u << 20));
  }
  CHECK(b->rejections().total() == 0);
  auto c = net.make();
  REQUIRE(c->send(b->address(), 1, text("still there?"), 5s) == SendStatus::kOk);
  auto m = b->receive(5s);
  REQUIRE(m);
  CHECK(str(m->bytes()) == "still there?");
}

TEST_CASE("the security policy refuses anything weaker than its own setting") {
  const SwarmKey key = SwarmKey::generate(), other = SwarmKey::generate();
  for (Kind kind : kKinds) {
    CAPTURE(std::string(kind_name(kind)));
    Net net(kind);
    auto encrypted = net.make(keyed(key, true));
    auto authenticated = net.make(keyed(key, false));
    auto stranger = net.make(keyed(other, true));
    auto keyless = net.make();

    REQUIRE(authenticated->send(encrypted->address(), 1, text("weak"), 5s) == SendStatus::kOk);
    CHECK_FALSE(encrypted->receive(300ms));
    CHECK(encrypted->rejections()[RejectReason::kSecurityMismatch] == 1);

    REQUIRE(encrypted->send(authenticated->address(), 1, text("strong"), 5s) == SendStatus::kOk);
    auto m = authenticated->receive(5s);
    REQUIRE(m);
    CHECK(str(m->bytes()) == "strong");

    REQUIRE(stranger->send(encrypted->address(), 1, text("other swarm"), 5s) == SendStatus::kOk);
    REQUIRE(keyless->send(encrypted->address(), 1, text("no key"), 5s) == SendStatus::kOk);
    REQUIRE(encrypted->send(keyless->address(), 1, text("keyed"), 5s) == SendStatus::kOk);
    CHECK_FALSE(encrypted->receive(300ms));
    CHECK_FALSE(keyless->receive(300ms));
    CHECK(encrypted->rejections()[RejectReason::kWrongSwarm] == 2);
    CHECK(keyless->rejections()[RejectReason::kWrongSwarm] == 1);
    CHECK(encrypted->rejections().total() == 3);
  }
}

TEST_CASE("the XChaCha20-Poly1305 cipher interoperates with the default one") {
  const SwarmKey key = SwarmKey::generate();
  Net net(Kind::kZmqTcp);
  TransportConfig x = keyed(key, true);
  x.cipher = wire::Cipher::kXChaCha20Poly1305;
  auto a = net.make(x), b = net.make(keyed(key, true));
  REQUIRE(a->send(b->address(), 1, text("chacha"), 5s) == SendStatus::kOk);
  auto m = b->receive(5s);
  REQUIRE(m);
  CHECK(str(m->bytes()) == "chacha");
  REQUIRE(b->send(a->address(), 1, text("back"), 5s) == SendStatus::kOk);
  REQUIRE(a->receive(5s));
}

TEST_CASE("without a key a peer stays on loopback and says so") {
  Net net(Kind::kZmqTcp);
  for (const char* addr : {"tcp://0.0.0.0:*", "tcp://*:*", "tcp://192.0.2.1:5555", "tcp://example.com:5555"}) {
    TransportConfig c;
    c.address = addr;
    try {
      net.make(c);
      FAIL("bound ", addr, " without a key");
    } catch (const UserError& e) {
      CHECK(std::string(e.what()).find("loopback only") != std::string::npos);
      CHECK(std::string(e.what()).find(addr) != std::string::npos);
    }
  }
  auto a = net.make();
  bool said = false;
  for (const auto& line : net.log())
    if (line.find("no swarm key") != std::string::npos && line.find("loopback only") != std::string::npos) said = true;
  CHECK(said);
  // Sending off this host is refused before anything is sent.
  CHECK_THROWS_AS(a->send("tcp://192.0.2.1:5555", 1, text("x"), 100ms), UserError);
  CHECK_THROWS_AS(a->send_params("tcp://10.1.2.3:5555", ParamSend{}, {}, 100ms), UserError);
  {
    TransportConfig c;
    c.address = "tcp://127.0.0.2:*";
    auto b = net.make(c);
    // localhost is on this host too (ZeroMQ connects to it; it binds only to addresses).
    const std::string port = b->address().substr(b->address().rfind(':'));
    CHECK(a->send("tcp://localhost" + port, 1, text("x"), 100ms) != SendStatus::kUnreachable);
  }
  // With a key, any address is allowed.
  TransportConfig k;
  k.address = "tcp://0.0.0.0:*";
  k.key = SwarmKey::generate();
  CHECK_NOTHROW(net.make(k));
}

TEST_CASE("binding an address in use is a clear error") {
  Net inproc(Kind::kInproc);
  TransportConfig c;
  c.address = "inproc://taken";
  auto a = inproc.make(c);
  CHECK_THROWS_AS(inproc.make(c), UserError);
  Net tcp(Kind::kZmqTcp);
  auto b = tcp.make();
  TransportConfig same;
  same.address = b->address();
  CHECK_THROWS_AS(tcp.make(same), UserError);
}

TEST_CASE("rejections are counted each time and logged once per sender and reason") {
  for (Kind kind : kKinds) {
    CAPTURE(std::string(kind_name(kind)));
    Net net(kind);
    auto a = net.make(), b = net.make(), c = net.make();
    std::vector<float> bad(100, 1.f);
    bad[50] = std::numeric_limits<float>::quiet_NaN();
    ParamSend meta;
    for (int i = 0; i < 20; ++i) REQUIRE(a->send_params(b->address(), meta, bad, 5s).ok());
    for (int i = 0; i < 5; ++i) REQUIRE(c->send_params(b->address(), meta, bad, 5s).ok());
    REQUIRE(a->send(b->address(), 3, text("fine"), 5s) == SendStatus::kOk);
    auto m = b->receive(5s);
    REQUIRE(m);  // the NaN frames before it were refused, the good one delivered
    CHECK(str(m->bytes()) == "fine");
    // Frames of different senders are not ordered with each other: let the rest arrive.
    for (int i = 0; i < 100 && b->rejections()[RejectReason::kNonFinite] < 25; ++i) b->receive(20ms);
    CHECK(b->rejections()[RejectReason::kNonFinite] == 25);
    int lines_a = 0, lines_c = 0;
    for (const auto& line : net.log()) {
      if (line.find("non_finite") == std::string::npos) continue;
      if (line.find(a->address()) != std::string::npos) ++lines_a;
      if (line.find(c->address()) != std::string::npos) ++lines_c;
    }
    CHECK(lines_a == 1);
    CHECK(lines_c == 1);
  }
}

TEST_CASE("NaN and infinities are refused wherever they sit, with every security setting and cipher") {
  // With a key FrameCipher::open checks the body (inside decryption / authentication with the
  // VAES AES-GCM, in a pass right after it otherwise), without one the transport checks it in a
  // pass of its own: either way every chunk holding a non-finite value is refused, each counted,
  // and the finite chunks around it are delivered intact.
  const SwarmKey key = SwarmKey::generate();
  struct Setting {
    int mode;  // 0 off, 1 authenticated, 2 encrypted
    wire::Cipher cipher;
  };
  std::vector<Setting> settings{{0, wire::Cipher::kNone}};
  for (wire::Cipher cipher : {wire::Cipher::kAes256Gcm, wire::Cipher::kXChaCha20Poly1305}) {
    if (!FrameCipher::available(cipher)) continue;
    settings.push_back({1, cipher});
    settings.push_back({2, cipher});
  }
  constexpr std::size_t kChunk = 1000, kLength = 5 * kChunk + 37;  // a short last chunk
  for (Kind kind : {Kind::kInproc, Kind::kZmqTcp})
    for (const Setting& setting : settings) {
      CAPTURE(std::string(kind_name(kind)));
      CAPTURE(setting.mode);
      CAPTURE(std::string(wire::cipher_name(setting.cipher)));
      Net net(kind);
      TransportConfig c = setting.mode == 0 ? TransportConfig{} : keyed(key, setting.mode == 2);
      if (setting.mode) c.cipher = setting.cipher;
      auto a = net.make(c), b = net.make(c);
      std::vector<float> values(kLength);
      for (std::size_t i = 0; i < kLength; ++i) values[i] = static_cast<float>(i % 97) - 40.0f;
      // Chunk 0: first value; 1: last value; 2: a middle one; 4: none; 5 (short): its last.
      const std::size_t planted[] = {0, 2 * kChunk - 1, 2 * kChunk + 517, kLength - 1};
      values[planted[0]] = std::numeric_limits<float>::quiet_NaN();
      values[planted[1]] = std::numeric_limits<float>::infinity();
      values[planted[2]] = -std::numeric_limits<float>::infinity();
      values[planted[3]] = -std::numeric_limits<float>::quiet_NaN();
      ParamSend meta;
      meta.type = 9;
      meta.chunk_elements = kChunk;
      REQUIRE(a->send_params(b->address(), meta, values, 5s).ok());
      std::vector<std::size_t> delivered;
      while (auto m = b->receive(500ms)) {
        REQUIRE(m->params);
        const std::span<const float> got = m->floats();
        REQUIRE(got.size() == m->params->count);
        for (std::size_t i = 0; i < got.size(); ++i) REQUIRE(got[i] == values[m->params->offset + i]);
        delivered.push_back(m->params->chunk_index);
      }
      CHECK(delivered == std::vector<std::size_t>{3, 4});
      CHECK(b->rejections()[RejectReason::kNonFinite] == 4);
    }
}

TEST_CASE("the same ring exchange gives the same sums on every transport") {
  // A small ring: each peer sends its vector to the next and adds what it receives from the
  // previous, n - 1 times; every peer ends with the sum of all vectors.
  const auto ring_sum = [](Kind kind) {
    Net net(kind);
    constexpr int n = 4;
    constexpr std::size_t len = 5003;
    std::vector<std::unique_ptr<Transport>> peers;
    for (int i = 0; i < n; ++i) peers.push_back(net.make());
    std::vector<std::vector<float>> x(n, std::vector<float>(len));
    for (int i = 0; i < n; ++i)
      for (std::size_t j = 0; j < len; ++j) x[i][j] = static_cast<float>((i + 1) * 1000 + j % 97);
    std::vector<std::vector<float>> acc = x, passing = x;
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int i = 0; i < n; ++i)
      threads.emplace_back([&, i] {
        for (int round = 0; round < n - 1; ++round) {
          ParamSend meta;
          meta.type = 0x300;
          meta.step = static_cast<std::uint64_t>(round);
          meta.chunk_elements = 1000;
          auto sent = peers[i]->send_params(peers[(i + 1) % n]->address(), meta, passing[i], 5s);
          if (!sent.ok()) ++failures;
          std::vector<float> incoming(len);
          std::size_t got = 0;
          while (got < len) {
            auto m = peers[i]->receive(5s, TypeRange::only(0x300));
            if (!m) {
              ++failures;
              return;
            }
            const auto f = m->floats();
            std::copy(f.begin(), f.end(), incoming.begin() + static_cast<std::ptrdiff_t>(m->params->offset));
            got += f.size();
          }
          if (!sent.completion.wait_for(5s)) ++failures;
          passing[i] = incoming;
          for (std::size_t j = 0; j < len; ++j) acc[i][j] += incoming[j];
        }
      });
    for (auto& t : threads) t.join();
    CHECK(failures == 0);
    return acc;
  };
  const auto in_process = ring_sum(Kind::kInproc);
  const auto over_tcp = ring_sum(Kind::kZmqTcp);
  for (int i = 0; i < 4; ++i) {
    CHECK(in_process[i] == over_tcp[i]);
    CHECK(in_process[i] == in_process[0]);
  }
  CHECK(in_process[0][0] == 10000.f);  // (1 + 2 + 3 + 4) * 1000 + 0
}

TEST_CASE("a receiver that stops receiving drops and counts, and survives heartbeats meanwhile") {
  // With libzmq 4.3.4, a connection stalled by a full receive pipe aborts the process on the
  // next ZMTP heartbeat; the transport must never let that state arise.
  for (Kind kind : kKinds) {
    CAPTURE(std::string(kind_name(kind)));
    Net net(kind);
    TransportConfig slow;
    slow.receive_queue = 16;
    slow.heartbeat_interval = 100ms;
    slow.heartbeat_timeout = 300ms;
    TransportConfig fast;
    fast.heartbeat_interval = 100ms;
    fast.heartbeat_timeout = 300ms;
    auto b = net.make(slow), a = net.make(fast);
    std::vector<std::byte> blob(64 * 1024, std::byte{7});
    int sent = 0;
    for (int i = 0; i < 1000; ++i)
      if (a->send(b->address(), 1, blob, 200ms) == SendStatus::kOk) ++sent;
    std::this_thread::sleep_for(800ms);  // several heartbeat intervals with nobody receiving
    CHECK(sent > 16);
    int got = 0;
    while (b->receive(200ms)) ++got;
    CHECK(got >= 16);
    CHECK(got < sent);
    CHECK(static_cast<int>(b->rejections()[RejectReason::kQueueFull]) + got == sent);
    REQUIRE(a->send(b->address(), 2, text("after"), 5s) == SendStatus::kOk);
    auto m = b->receive(5s);
    REQUIRE(m);
    CHECK(str(m->bytes()) == "after");
  }
}

TEST_CASE("a peer's id is the first 8 bytes, little-endian, of the BLAKE2b-128 hash of its address") {
  // Every version must derive the same id from an address: members know each other by it.
  CHECK(peer_id_from_address("tcp://127.0.0.1:7000") == 0xb6b471c253fa1d81ull);
}
