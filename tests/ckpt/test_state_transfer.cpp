// State transfer over both transports (the in-process hub and ZeroMQ on tcp://127.0.0.1:*):
// the exact state arrives; candidates are asked at once and the latest step wins; a background
// server answers while its training thread is blocked; stray,
// garbage and corrupt answers are skipped; an oversized state is refused at once; malformed
// requests are ignored.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "foundations/base/error.h"
#include "foundations/transport/inproc_transport.h"
#include "foundations/transport/zmq_transport.h"
#include "foundations/wire/message_types.h"
#include "peers/runtime/state_transfer.h"
#include "tests/ckpt/state_fixtures.h"
#include "tests/hex_bytes.h"
#include "tests/test_util.h"

using namespace chorus;
using namespace std::chrono_literals;
using ckpt_test::bits_equal;
using ckpt_test::random_state;
using Clock = std::chrono::steady_clock;

namespace {

enum class Kind { kInproc, kZmq };
std::string kind_name(Kind k) { return k == Kind::kInproc ? "inproc" : "zmq-tcp"; }
const Kind kKinds[] = {Kind::kInproc, Kind::kZmq};

// Collects log lines from any thread.
class Lines {
 public:
  StateTransferLog sink() {
    return [this](const std::string& line) {
      std::lock_guard lock(mutex_);
      lines_.push_back(line);
    };
  }
  int count(const std::string& needle) {
    std::lock_guard lock(mutex_);
    int n = 0;
    for (const auto& l : lines_) n += l.find(needle) != std::string::npos;
    return n;
  }
  std::string all() {
    std::lock_guard lock(mutex_);
    std::string s;
    for (const auto& l : lines_) s += l + "\n";
    return s;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> lines_;
};

class Net {
 public:
  explicit Net(Kind kind) : kind_(kind) {}
  std::unique_ptr<Transport> make(TransportConfig c = {}) {
    c.log = [](const std::string&) {};
    if (kind_ == Kind::kInproc) {
      c.address = "inproc://peer-" + std::to_string(++count_);
      return make_inproc_transport(hub_, c);
    }
    c.address = "tcp://127.0.0.1:*";
    return make_zmq_transport(c);
  }
  // An address nobody listens at: never registered, or a tcp port that was just released.
  std::string absent() {
    if (kind_ == Kind::kInproc) return "inproc://nobody";
    return make()->address();
  }

 private:
  Kind kind_;
  std::shared_ptr<InprocHub> hub_ = std::make_shared<InprocHub>();
  int count_ = 0;
};

// Runs a StateServer on its own thread, as a training loop would between steps.
class ServerThread {
 public:
  ServerThread(Transport& transport, TrainingState state, Lines* log = nullptr)
      : state_(std::move(state)),
        server_(transport, [this] { return state_; }, 2000ms, log ? log->sink() : StateTransferLog{}),
        thread_([this] {
          while (!stop_) {
            answered_ += server_.serve_pending();
            std::this_thread::sleep_for(1ms);  // a training step
          }
        }) {}
  ~ServerThread() {
    stop_ = true;
    thread_.join();
  }
  // How many requests were answered, once at least `expected` were (or after a while).
  int answered(int expected) const {
    for (int i = 0; i < 200 && answered_ < expected; ++i) std::this_thread::sleep_for(10ms);
    return answered_;
  }

 private:
  TrainingState state_;
  StateServer server_;
  std::atomic<bool> stop_{false};
  std::atomic<int> answered_{0};
  std::thread thread_;
};

std::vector<std::byte> bytes_of(const std::string& s) {
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  return {p, p + s.size()};
}

std::vector<std::byte> with_nonce(std::span<const std::byte> request, std::vector<std::byte> body) {
  std::vector<std::byte> out(request.begin(), request.end());
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace

TEST_CASE("a joining peer fetches the exact state") {
  for (Kind kind : kKinds) {
    CAPTURE(kind_name(kind));
    Net net(kind);
    auto server = net.make(), joiner = net.make();
    const TrainingState state = random_state(21, 300000, 600000);  // ~3.6 MB
    ServerThread serving(*server, state);
    Lines log;
    auto got = fetch_state(*joiner, {server->address()}, 10s, log.sink());
    REQUIRE_MESSAGE(got, log.all());
    CHECK(got->from == server->address());
    CHECK(bits_equal(got->state, state));
    // Twice more: every request gets its own answer.
    for (int i = 0; i < 2; ++i) {
      got = fetch_state(*joiner, {server->address()}, 10s, log.sink());
      REQUIRE(got);
      CHECK(bits_equal(got->state, state));
    }
    CHECK(serving.answered(3) == 3);
  }
}

TEST_CASE("candidates are asked at once: absent or silent ones cost no delay when another answers") {
  const auto timeout = 700ms;
  for (Kind kind : kKinds) {
    CAPTURE(kind_name(kind));
    Net net(kind);
    auto server = net.make(), joiner = net.make();
    auto silent = net.make();  // alive but serving nothing: it never answers
    const TrainingState state = random_state(22, 1000, 2000);
    ServerThread serving(*server, state);

    Lines log;
    auto start = Clock::now();
    auto got = fetch_state(*joiner, {net.absent(), server->address()}, timeout, log.sink());
    const double absent_s = seconds_since(start);
    REQUIRE_MESSAGE(got, log.all());
    CHECK(got->from == server->address());
    CHECK(bits_equal(got->state, state));
    CHECK(log.count("cannot ask") == 1);

    start = Clock::now();
    got = fetch_state(*joiner, {silent->address(), server->address()}, timeout, log.sink());
    const double silent_s = seconds_since(start);
    REQUIRE_MESSAGE(got, log.all());
    CHECK(got->from == server->address());
    CHECK(log.count("no answer from " + silent->address()) == 1);
    // Asked together: the live answer does not wait for the silent one's timeout.
    CHECK(silent_s < 0.9 * std::chrono::duration<double>(timeout).count());
    // An absent one costs at most its bounded send wait (generous margin for a loaded machine).
    CHECK(absent_s < 5.0);
    MESSAGE(kind_name(kind) << ": absent first candidate " << absent_s << " s, silent first candidate " << silent_s
                            << " s (timeout " << timeout.count() << " ms)");

    // Nobody at all: nothing, after about one timeout (not one per candidate).
    start = Clock::now();
    CHECK_FALSE(fetch_state(*joiner, {net.absent(), silent->address()}, timeout, log.sink()));
    const double nobody_s = seconds_since(start);
    CHECK(nobody_s >= 0.9 * std::chrono::duration<double>(timeout).count());
    CHECK(nobody_s < 5.0);
    CHECK_FALSE(fetch_state(*joiner, {}, timeout, log.sink()));
  }
}

TEST_CASE("stray, garbage and corrupt answers are skipped, each logged once") {
  for (Kind kind : kKinds) {
    for (int variant = 0; variant < 3; ++variant) {
      CAPTURE(kind_name(kind));
      CAPTURE(variant);
      Net net(kind);
      auto server = net.make(), joiner = net.make(), liar = net.make();
      const TrainingState state = random_state(23, 5000, 5000);
      ServerThread serving(*server, state);
      // The liar answers every request with five stray answers (wrong nonce, valid state; too
      // short) and then with an answer carrying the right nonce but a body that is not a valid
      // state: garbage, a corrupted state, or an empty one.
      std::atomic<bool> stop{false};
      std::thread liar_thread([&] {
        while (!stop) {
          auto req = liar->receive(50ms, TypeRange::only(msg::kStateRequest));
          if (!req) continue;
          std::vector<std::byte> wrong_nonce = with_nonce(req->bytes(), random_state(24, 10, 10).encode());
          wrong_nonce[0] ^= std::byte{1};
          for (int i = 0; i < 5; ++i) {
            liar->send(req->from, msg::kStateResponse, wrong_nonce, 2s);
            liar->send(req->from, msg::kStateResponse, bytes_of("abc"), 2s);
          }
          std::vector<std::byte> body;
          if (variant == 0) body = bytes_of("GARBAGE, NOT A STATE");
          if (variant == 1) {
            body = random_state(25, 100, 100).encode();
            body[body.size() / 2] ^= std::byte{0x40};
          }
          liar->send(req->from, msg::kStateResponse, with_nonce(req->bytes(), body), 2s);
        }
      });
      Lines log;
      auto got = fetch_state(*joiner, {liar->address(), server->address()}, 5s, log.sink());
      stop = true;
      liar_thread.join();
      REQUIRE_MESSAGE(got, log.all());
      CHECK(got->from == server->address());
      CHECK(bits_equal(got->state, state));
      CHECK_MESSAGE(log.count("belongs to no request") == 1, log.all());
      CHECK_MESSAGE(log.count("skipping an invalid answer") == 1, log.all());
      CHECK_MESSAGE(log.count("training state from " + liar->address()) == 1, log.all());
    }
  }
}

TEST_CASE("stray answers arriving while the real one is on its way do not hide it") {
  for (Kind kind : kKinds) {
    CAPTURE(kind_name(kind));
    Net net(kind);
    auto server = net.make(), joiner = net.make(), noise = net.make();
    const TrainingState state = random_state(26, 20000, 0, "cnn", "sgd");
    std::atomic<bool> stop{false};
    std::thread sprayer([&] {
      const std::vector<std::byte> junk = bytes_of("0123456789abcdef-not-for-you");
      while (!stop) {
        noise->send(joiner->address(), msg::kStateResponse, junk, 100ms);
        std::this_thread::sleep_for(1ms);
      }
    });
    std::this_thread::sleep_for(50ms);
    std::optional<FetchedState> got;
    {
      ServerThread serving(*server, state);
      Lines log;
      got = fetch_state(*joiner, {server->address()}, 5s, log.sink());
      CHECK(log.count("belongs to no request") <= 1);
    }
    stop = true;
    sprayer.join();
    REQUIRE(got);
    CHECK(bits_equal(got->state, state));
  }
}

TEST_CASE("a state larger than the server may send is refused at once with a UserError") {
  for (Kind kind : kKinds) {
    CAPTURE(kind_name(kind));
    Net net(kind);
    TransportConfig small;
    small.max_payload_bytes = 64 << 10;
    small.chunk_bytes = 4096;
    auto server = net.make(small), joiner = net.make();
    Lines server_log;
    ServerThread serving(*server, random_state(27, 100000, 0), &server_log);  // 400 KB
    const auto start = Clock::now();
    try {
      (void)fetch_state(*joiner, {server->address()}, 30s);
      FAIL("an oversized state must be refused");
    } catch (const UserError& e) {
      const std::string message = e.what();
      CHECK_MESSAGE(message.find("refused") != std::string::npos, message);
      CHECK_MESSAGE(message.find(server->address()) != std::string::npos, message);
      CHECK_MESSAGE(message.find("exceeds the limit") != std::string::npos, message);
    }
    CHECK(seconds_since(start) < 15.0);  // far less than the 30 s timeout: it did not wait it out
    CHECK(server_log.count("refusing") == 1);
  }
}

TEST_CASE("malformed requests are ignored and logged once; valid ones are still served") {
  for (Kind kind : kKinds) {
    CAPTURE(kind_name(kind));
    Net net(kind);
    auto server = net.make(), joiner = net.make(), pest = net.make();
    const TrainingState state = random_state(28, 100, 100);
    Lines server_log;
    ServerThread serving(*server, state, &server_log);
    for (const std::string& bad : {std::string(), std::string("1234567"), std::string("123456789")})
      REQUIRE(pest->send(server->address(), msg::kStateRequest, bytes_of(bad), 2s) == SendStatus::kOk);
    auto got = fetch_state(*joiner, {server->address()}, 5s);
    REQUIRE(got);
    CHECK(bits_equal(got->state, state));
    // The pest's requests were read before the joiner's (one receiver, in order per sender
    // only), so wait briefly for them to have been seen.
    for (int i = 0; i < 100 && server_log.count("malformed request from " + pest->address()) == 0; ++i)
      std::this_thread::sleep_for(10ms);
    CHECK_MESSAGE(server_log.count("malformed request from " + pest->address()) == 1, server_log.all());
    CHECK(serving.answered(1) == 1);
    // Nothing came back to the pest.
    CHECK_FALSE(pest->receive(200ms, msg::kStateTransfer));
  }
}

TEST_CASE("the answer with the latest step wins among those that arrive together") {
  for (Kind kind : kKinds) {
    CAPTURE(kind_name(kind));
    Net net(kind);
    auto behind = net.make(), ahead = net.make(), joiner = net.make();
    TrainingState old_state = random_state(31, 1000, 2000), new_state = random_state(32, 1000, 2000);
    old_state.step = 5;
    new_state.step = 9;
    ServerThread a(*behind, old_state), b(*ahead, new_state);
    for (const auto& order : {std::vector<std::string>{behind->address(), ahead->address()},
                              std::vector<std::string>{ahead->address(), behind->address()}}) {
      auto got = fetch_state(*joiner, order, 5s);
      REQUIRE(got);
      CHECK(got->state.step == 9);
      CHECK(bits_equal(got->state, new_state));
    }
  }
}

TEST_CASE("a background server answers while the training thread is blocked, freshly when it is not") {
  for (Kind kind : kKinds) {
    CAPTURE(kind_name(kind));
    Net net(kind);
    auto server = net.make(), joiner = net.make();
    BackgroundStateServer background(*server, 1000ms);
    Lines log;
    // Nothing published yet: no answer, after the fetch's timeout.
    CHECK_FALSE(fetch_state(*joiner, {server->address()}, 1500ms, log.sink()));

    // Published once, then the training thread blocks (a collective): the request gets that
    // snapshot after waiting at most fresh_wait for a fresher one.
    TrainingState at_boundary = random_state(41, 2000, 4000);
    at_boundary.step = 100;
    background.publish(at_boundary);
    auto start = Clock::now();
    auto got = fetch_state(*joiner, {server->address()}, 5s, log.sink());
    REQUIRE_MESSAGE(got, log.all());
    CHECK(bits_equal(got->state, at_boundary));
    CHECK(seconds_since(start) < 3.0);
    // Still blocked, but 30 steps later by its count: the older snapshot with the current step
    // count (a joiner must count steps as the swarm does).
    background.note_step(130);
    got = fetch_state(*joiner, {server->address()}, 5s, log.sink());
    REQUIRE_MESSAGE(got, log.all());
    CHECK(got->state.step == 130);
    CHECK(got->state.params == at_boundary.params);

    // A training thread stepping: it sees the request and publishes its current step.
    std::atomic<bool> stop{false};
    std::thread trainer([&] {
      std::int64_t step = 130;
      while (!stop) {
        ++step;
        if (background.wanted()) {
          TrainingState s = random_state(42, 2000, 4000);
          s.step = step;
          background.publish(s);
        }
        std::this_thread::sleep_for(2ms);
      }
    });
    got = fetch_state(*joiner, {server->address()}, 5s, log.sink());
    stop = true;
    trainer.join();
    REQUIRE_MESSAGE(got, log.all());
    CHECK(got->state.step > 130);
    CHECK(background.answered() == 3);
  }
}

TEST_CASE("peers that start together and fetch from each other answer 'not started' instead of timing out") {
  const auto timeout = 3000ms;
  for (Kind kind : kKinds) {
    CAPTURE(kind_name(kind));
    Net net(kind);
    auto a = net.make(), b = net.make(), c = net.make(), server = net.make();
    const TrainingState state = random_state(31, 1000, 2000);
    ServerThread serving(*server, state);
    Lines log;
    // Three fetchers at once, each asking the two others and the one member that has a state.
    std::vector<Transport*> fetchers{a.get(), b.get(), c.get()};
    std::vector<std::optional<FetchedState>> got(3);
    std::vector<double> took(3);
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < 3; ++i)
      threads.emplace_back([&, i] {
        std::vector<std::string> candidates{server->address()};
        for (std::size_t j = 0; j < 3; ++j)
          if (j != i) candidates.push_back(fetchers[j]->address());
        const auto start = Clock::now();
        got[i] = fetch_state(*fetchers[i], candidates, timeout, log.sink());
        took[i] = seconds_since(start);
      });
    for (auto& t : threads) t.join();
    for (std::size_t i = 0; i < 3; ++i) {
      CAPTURE(i);
      REQUIRE_MESSAGE(got[i], log.all());
      CHECK(got[i]->from == server->address());
      CHECK(bits_equal(got[i]->state, state));
      MESSAGE(kind_name(kind) << ": fetcher " << i << " took " << took[i] << " s");
    }
    // Every candidate answered: none is reported silent (each would have cost the timeout).
    CHECK_MESSAGE(log.count("no answer from") == 0, log.all());
  }
}

TEST_CASE("the messages' exact bytes: an 8-byte little-endian nonce, echoed before the answer's body") {
  static_assert(msg::kStateRequest == 0x0200 && msg::kStateResponse == 0x0201 && msg::kStateRefusal == 0x0202 &&
                msg::kStateNotStarted == 0x0203);
  Net net(Kind::kInproc);
  auto server = net.make(), asker = net.make(), joiner = net.make();
  const TrainingState state = random_state(32, 10, 10);
  ServerThread serving(*server, state);
  const auto nonce = chorus_test::hex_bytes("0102030405060708");
  REQUIRE(asker->send(server->address(), msg::kStateRequest, nonce, 2s) == SendStatus::kOk);
  const auto answer = asker->receive(5s, TypeRange::only(msg::kStateResponse));
  REQUIRE(answer);
  CHECK(std::vector<std::byte>(answer->bytes().begin(), answer->bytes().end()) == with_nonce(nonce, state.encode()));

  // A fetcher asks with 8 bytes, and answers a request it receives meanwhile with the same 8
  // bytes under kStateNotStarted.
  std::optional<FetchedState> got;
  std::thread fetching([&] { got = fetch_state(*joiner, {asker->address()}, 5s); });
  const auto request = asker->receive(5s, TypeRange::only(msg::kStateRequest));
  REQUIRE(request);
  CHECK(request->bytes().size() == 8);
  const auto other = chorus_test::hex_bytes("1112131415161718");
  REQUIRE(asker->send(joiner->address(), msg::kStateRequest, other, 2s) == SendStatus::kOk);
  const auto not_started = asker->receive(5s, TypeRange::only(msg::kStateNotStarted));
  REQUIRE(not_started);
  CHECK(std::vector<std::byte>(not_started->bytes().begin(), not_started->bytes().end()) == other);
  REQUIRE(asker->send(joiner->address(), msg::kStateNotStarted, request->bytes(), 2s) == SendStatus::kOk);
  fetching.join();
  CHECK_FALSE(got);
}
