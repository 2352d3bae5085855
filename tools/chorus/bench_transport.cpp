// chorus bench transport: round-trip latency of small messages and throughput of 1..64 MiB
// parameter payloads between two processes on loopback TCP, for each security setting of the
// chorus transport -- off, authenticated (auth), encrypted -- beside raw ZeroMQ measured in the
// same run: "raw" sends each payload zero-copy as chunks of the same size chorus uses (the
// baseline the others are compared with), "raw-whole" as one zero-copy message. Raw servers do
// nothing with the bytes (but keep their receive buffers on the heap, as chorus does); chorus
// servers verify, decrypt and check every chunk.
//
// Each setting has its own server process (all forked before this process creates any ZeroMQ
// context); the settings take turns (--block transfers at a time) so that load from elsewhere on
// the machine falls on all of them alike. Throughput is payload bytes over the time from handing
// the payload to the transport until the server acknowledges having received (and checked) all
// of it; the median over the repetitions is reported.
//
// Before each transfer the sending process writes --sweep MiB of other memory (not timed), as
// the training step between two sends of a peer does: a payload sent again and again with
// nothing in between stays in the CPU caches, and raw ZeroMQ, which does nothing else with the
// bytes, gains from that far more than the settings that read them (docs/transport.md,
// "Benchmark", has the measurements). --sweep 0 measures back-to-back sends.
#include <fmt/core.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "foundations/base/error.h"
#include "foundations/crypto/aes_gcm.h"
#include "foundations/crypto/frame_cipher.h"
#include "foundations/crypto/swarm_key.h"
#include "foundations/transport/receive_heap.h"
#include "foundations/transport/transport.h"
#include "foundations/transport/zmq_transport.h"
#include "foundations/wire/byte_reader.h"
#include "foundations/wire/byte_writer.h"
#include "foundations/wire/message_types.h"
#include "tools/chorus/child_process.h"
#include "tools/chorus/command.h"
#include "tools/chorus/list_option.h"
#include "tools/chorus/option_checks.h"
#include "tools/chorus/statistics.h"

namespace {

using chorus::tools::median;
using chorus::tools::percentile;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// The bench's own messages, between its client and its forked server.
constexpr std::uint16_t kPing = chorus::msg::kTest.at(1), kPong = chorus::msg::kTest.at(2),
                        kAck = chorus::msg::kTest.at(3), kQuit = chorus::msg::kTest.at(4),
                        kData = chorus::msg::kTest.at(0x10);

struct Options {
  bool json = false;
  std::vector<int> sizes_mib{1, 4, 16, 64};
  std::vector<std::string> modes{"raw", "raw-whole", "off", "auth", "encrypt"};
  int chunk_kib = 1024;
  int round_trips = 2000;
  int reps = 0;  // 0: by size
  int block = 1;  // transfers a setting makes in a row before the next takes its turn
  int sweep_mib = 128;  // memory written before each transfer (0: none)
  std::string cipher;  // empty: best available
};

struct Measurement {
  std::string mode;
  double rtt_p50_us = 0, rtt_p99_us = 0;
  std::map<int, double> bytes_per_second;  // by payload MiB
  std::map<int, int> reps;
};

// Writes one byte in every cache line of its own memory: what is in the caches afterwards is
// this, not the payload.
class CacheSweep {
 public:
  explicit CacheSweep(std::size_t bytes) : area_(bytes, 1) {}
  void run() {
    for (std::size_t i = 0; i < area_.size(); i += 64) area_[i] = static_cast<std::uint8_t>(area_[i] + 1);
    sink_ = area_.empty() ? 0 : area_.back();  // the writes are observable: never optimised away
  }

 private:
  std::vector<std::uint8_t> area_;
  volatile std::uint8_t sink_ = 0;
};

// Enough repetitions that the median holds still on a busy machine, where throughput on
// loopback swings from one transfer to the next and the median of a few dozen moved as much
// between runs (docs/transport.md, "Benchmark"). At most about 1.6 GB per mode and size.
int reps_for(const Options& o, int mib) {
  if (o.reps > 0) return o.reps;
  return mib <= 1 ? 400 : mib <= 4 ? 200 : mib <= 16 ? 100 : 25;
}

// --- server side (child process) -------------------------------------------------------------

void write_line(int fd, const std::string& s) {
  const std::string line = s + "\n";
  if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(3);
}

// Raw ZeroMQ: PULL bound here; the first message names the client's PULL address; payloads of
// a known size are counted and acknowledged.
void serve_raw(int ready_fd) {
  // The allocator setting every chorus transport makes (receive_heap.h): without it each large
  // message ZeroMQ receives is a fresh mmap that faults in page by page, a cost of glibc's
  // defaults rather than of ZeroMQ, which the baseline should not carry.
  chorus::keep_receive_buffers_on_heap(std::size_t{64} << 20);
  zmq::context_t ctx(1);
  zmq::socket_t in(ctx, zmq::socket_type::pull), out(ctx, zmq::socket_type::push);
  in.set(zmq::sockopt::rcvhwm, 1024);
  in.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(256ll << 20));
  in.bind("tcp://127.0.0.1:*");
  write_line(ready_fd, in.get(zmq::sockopt::last_endpoint));
  in.set(zmq::sockopt::rcvtimeo, 30000);
  zmq::message_t m;
  if (!in.recv(m)) return;
  out.set(zmq::sockopt::linger, 1000);
  out.connect(m.to_string());
  for (;;) {
    if (!in.recv(m)) return;
    if (m.size() == 1 && *static_cast<const char*>(m.data()) == 'q') break;
    // A payload is announced by an 8-byte size, then arrives as messages (chunks) adding up to
    // it; anything else is a ping.
    if (m.size() == 8) {
      const std::uint64_t total = chorus::wire::ByteReader({static_cast<const std::byte*>(m.data()), 8}).u64();
      std::uint64_t got = 0;
      while (got < total) {
        if (!in.recv(m)) return;
        got += m.size();
      }
    }
    zmq::message_t ack(8);
    out.send(ack, zmq::send_flags::none);
  }
}

void serve_chorus(int ready_fd, chorus::TransportConfig config) {
  config.address = "tcp://127.0.0.1:*";
  config.log = [](const std::string&) {};
  auto t = chorus::make_zmq_transport(std::move(config));
  write_line(ready_fd, t->address());
  std::map<std::uint64_t, std::uint64_t> received;  // step -> elements
  auto idle_since = Clock::now();
  for (;;) {
    auto m = t->receive(1000ms);
    if (!m) {
      if (Clock::now() - idle_since > 30s) return;
      continue;
    }
    idle_since = Clock::now();
    if (m->type == kQuit) return;
    if (m->type == kPing) {
      t->send(m->from, kPong, m->bytes(), 5s);
    } else if (m->type == kData && m->params) {
      auto& got = received[m->params->step];
      got += m->params->count;
      if (got == m->params->total_elements) {
        const std::uint64_t step = m->params->step;
        received.erase(step);
        std::array<std::byte, 8> body;
        chorus::wire::ByteWriter(body).u64(step);
        t->send(m->from, kAck, body, 5s);
      }
    }
  }
}

// Forks a server; returns it and the address it bound.
std::pair<chorus::tools::ChildProcess, std::string> start_server(const std::string& mode,
                                                                 const chorus::TransportConfig& config) {
  int fds[2];
  if (::pipe(fds) != 0) throw chorus::UserError("bench transport: pipe failed");
  chorus::tools::ChildProcess server;
  try {
    server = chorus::tools::ChildProcess::forked("bench transport server", [&] {
      ::close(fds[0]);
      if (mode.starts_with("raw")) serve_raw(fds[1]);
      else serve_chorus(fds[1], config);
      ::sleep(1);  // let the last reply leave before the process (and its I/O thread) ends
      return 0;
    });
  } catch (...) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw;
  }
  ::close(fds[1]);
  pollfd p{fds[0], POLLIN, 0};
  std::string line;
  if (::poll(&p, 1, 10000) > 0) {
    char buf[512];
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) line.assign(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (line.empty()) throw chorus::UserError("bench transport: the server process did not start");
  return {std::move(server), line};
}

// --- client side -------------------------------------------------------------------------------

// One connection to one server; round_trip and transfer each return seconds.
class Client {
 public:
  virtual ~Client() = default;
  virtual double round_trip() = 0;
  virtual double transfer(std::span<const float> payload) = 0;
  virtual void quit() = 0;
};

class RawClient final : public Client {
 public:
  RawClient(const std::string& server, std::size_t chunk_bytes)
      : ctx_(1), out_(ctx_, zmq::socket_type::push), in_(ctx_, zmq::socket_type::pull), chunk_bytes_(chunk_bytes) {
    out_.set(zmq::sockopt::sndhwm, 64);
    out_.set(zmq::sockopt::linger, 0);
    in_.set(zmq::sockopt::rcvtimeo, 30000);
    in_.bind("tcp://127.0.0.1:*");
    out_.connect(server);
    const std::string me = in_.get(zmq::sockopt::last_endpoint);
    out_.send(zmq::buffer(me), zmq::send_flags::none);
  }
  double round_trip() override {
    char small[64] = {};
    const auto t0 = Clock::now();
    out_.send(zmq::buffer(small, sizeof small), zmq::send_flags::none);
    zmq::message_t reply;
    if (!in_.recv(reply)) throw chorus::UserError("bench transport: raw server stopped answering");
    return std::chrono::duration<double>(Clock::now() - t0).count();
  }
  double transfer(std::span<const float> payload) override {
    const auto* bytes = reinterpret_cast<const char*>(payload.data());
    const std::size_t n = payload.size_bytes();
    const std::size_t chunk = chunk_bytes_ ? chunk_bytes_ : n;
    const auto t0 = Clock::now();
    // Zero copy: the messages point into the payload; the first says how much follows.
    std::array<std::byte, 8> total;
    chorus::wire::ByteWriter(total).u64(n);
    out_.send(zmq::buffer(total), zmq::send_flags::none);
    for (std::size_t off = 0; off < n; off += chunk) {
      zmq::message_t m(const_cast<char*>(bytes) + off, std::min(chunk, n - off), [](void*, void*) {}, nullptr);
      out_.send(m, zmq::send_flags::none);
    }
    zmq::message_t reply;
    if (!in_.recv(reply)) throw chorus::UserError("bench transport: raw server stopped answering");
    return std::chrono::duration<double>(Clock::now() - t0).count();
  }
  void quit() override { out_.send(zmq::buffer("q", 1), zmq::send_flags::none); }

 private:
  zmq::context_t ctx_;
  zmq::socket_t out_, in_;
  std::size_t chunk_bytes_;
};

class ChorusClient final : public Client {
 public:
  ChorusClient(chorus::TransportConfig config, std::string server, std::size_t chunk_bytes)
      : server_(std::move(server)), chunk_elements_(chunk_bytes / sizeof(float)) {
    config.address = "tcp://127.0.0.1:*";
    config.log = [](const std::string&) {};
    t_ = chorus::make_zmq_transport(std::move(config));
  }
  double round_trip() override {
    std::array<std::byte, 64> small{};
    const auto t0 = Clock::now();
    if (t_->send(server_, kPing, small, 10s) != chorus::SendStatus::kOk)
      throw chorus::UserError("bench transport: cannot reach the server");
    if (!t_->receive(10s, chorus::TypeRange::only(kPong)))
      throw chorus::UserError("bench transport: the server stopped answering");
    return std::chrono::duration<double>(Clock::now() - t0).count();
  }
  double transfer(std::span<const float> payload) override {
    chorus::ParamSend meta;
    meta.type = kData;
    meta.step = ++step_;
    meta.chunk_elements = chunk_elements_;
    const auto t0 = Clock::now();
    const auto sent = t_->send_params(server_, meta, payload, 30s);
    if (!sent.ok()) throw chorus::UserError("bench transport: send failed");
    if (!t_->receive(30s, chorus::TypeRange::only(kAck)))
      throw chorus::UserError("bench transport: the server did not acknowledge a payload");
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!sent.completion.wait_for(10s)) throw chorus::UserError("bench transport: send buffer not released");
    return s;
  }
  void quit() override { t_->send(server_, kQuit, {}, 1s); }

 private:
  std::unique_ptr<chorus::Transport> t_;
  std::string server_;
  std::size_t chunk_elements_;
  std::uint64_t step_ = 0;
};

int run(const Options& o) {
  std::optional<chorus::wire::Cipher> cipher;
  if (o.cipher == "aes256gcm") cipher = chorus::wire::Cipher::kAes256Gcm;
  else if (o.cipher == "xchacha20poly1305") cipher = chorus::wire::Cipher::kXChaCha20Poly1305;
  const chorus::wire::Cipher used = cipher.value_or(chorus::FrameCipher::best_available());
  if (!chorus::FrameCipher::available(used)) throw chorus::UserError("--cipher: not available on this CPU");
  // Which AES-256-GCM code the servers and the client run (they are this same program): OpenSSL's
  // by default, chorus's fused VAES code when built with -Dvaes=true on a CPU that runs it.
  const bool aes = used == chorus::wire::Cipher::kAes256Gcm;
  const std::string cipher_label = std::string(chorus::wire::cipher_name(used)) +
                                   (aes ? fmt::format(" ({})", chorus::aes_gcm::implementation()) : "");
  const int max_mib = *std::max_element(o.sizes_mib.begin(), o.sizes_mib.end());
  std::vector<float> buffer((static_cast<std::size_t>(max_mib) << 20) / sizeof(float));
  for (std::size_t i = 0; i < buffer.size(); ++i) buffer[i] = static_cast<float>(i % 1000) * 0.001f;
  const chorus::SwarmKey key = chorus::SwarmKey::generate();
  CacheSweep sweep(static_cast<std::size_t>(o.sweep_mib) << 20);

  // Every server starts before this process creates any ZeroMQ context (fork safety); then the
  // settings take turns, --block transfers at a time, so that load from elsewhere on the machine
  // falls on all of them alike.
  const std::size_t chunk_bytes = static_cast<std::size_t>(o.chunk_kib) * 1024;
  // Servers still running when this function leaves (by an exception too) are killed.
  std::vector<std::pair<chorus::tools::ChildProcess, std::string>> servers;
  std::vector<chorus::TransportConfig> configs;
  for (const auto& mode : o.modes) {
    chorus::TransportConfig config;
    config.chunk_bytes = chunk_bytes;
    config.max_payload_bytes = std::max<std::uint64_t>(64ull << 20, config.chunk_bytes);
    config.cipher = cipher;
    if (mode == "auth" || mode == "encrypt") {
      config.key = key;
      config.encrypt = mode == "encrypt";
    }
    configs.push_back(config);
    servers.push_back(start_server(mode, config));
  }
  std::vector<Measurement> results(o.modes.size());
  {
    std::vector<std::unique_ptr<Client>> clients;
    for (std::size_t i = 0; i < o.modes.size(); ++i) {
      results[i].mode = o.modes[i];
      if (o.modes[i] == "raw") clients.push_back(std::make_unique<RawClient>(servers[i].second, chunk_bytes));
      else if (o.modes[i] == "raw-whole") clients.push_back(std::make_unique<RawClient>(servers[i].second, 0));
      else clients.push_back(std::make_unique<ChorusClient>(configs[i], servers[i].second, chunk_bytes));
    }
    std::vector<std::vector<double>> rtts(clients.size());
    constexpr int kBlock = 50, kWarmup = 50;
    for (std::size_t i = 0; i < clients.size(); ++i)
      for (int k = 0; k < kWarmup; ++k) clients[i]->round_trip();
    for (int done = 0; done < o.round_trips; done += kBlock)
      for (std::size_t i = 0; i < clients.size(); ++i)
        for (int k = 0; k < std::min(kBlock, o.round_trips - done); ++k)
          rtts[i].push_back(clients[i]->round_trip() * 1e6);
    for (std::size_t i = 0; i < clients.size(); ++i) {
      results[i].rtt_p50_us = median(rtts[i]);
      results[i].rtt_p99_us = percentile(rtts[i], 0.99);
    }
    for (int mib : o.sizes_mib) {
      const std::size_t elements = (static_cast<std::size_t>(mib) << 20) / sizeof(float);
      const std::span<const float> payload(buffer.data(), elements);
      std::vector<std::vector<double>> secs(clients.size());
      for (std::size_t i = 0; i < clients.size(); ++i) clients[i]->transfer(payload);  // warm-up
      const int reps = reps_for(o, mib);
      for (int done = 0; done < reps; done += o.block)
        for (std::size_t i = 0; i < clients.size(); ++i)
          for (int k = 0; k < std::min(o.block, reps - done); ++k) {
            sweep.run();
            secs[i].push_back(clients[i]->transfer(payload));
          }
      for (std::size_t i = 0; i < clients.size(); ++i) {
        results[i].bytes_per_second[mib] = static_cast<double>(payload.size_bytes()) / median(secs[i]);
        results[i].reps[mib] = static_cast<int>(secs[i].size());
      }
    }
    for (auto& c : clients) c->quit();
  }
  for (auto& [server, address] : servers) server.wait_for(std::chrono::seconds(5));
  servers.clear();  // any that did not quit are killed

  const Measurement* raw = nullptr;
  for (const auto& r : results)
    if (r.mode == "raw") raw = &r;  // the baseline: raw ZeroMQ with the same chunking
  if (o.json) {
    for (const auto& r : results) {
      nlohmann::json lat = {{"bench", "transport"}, {"mode", r.mode}, {"metric", "round_trip"},
                            {"payload_bytes", 64}, {"p50_us", r.rtt_p50_us}, {"p99_us", r.rtt_p99_us},
                            {"round_trips", o.round_trips}, {"transport", "tcp-loopback"}};
      if (!r.mode.starts_with("raw")) lat["cipher"] = r.mode == "off" ? "none" : chorus::wire::cipher_name(used);
      if (aes && !r.mode.starts_with("raw") && r.mode != "off") lat["aes_gcm"] = chorus::aes_gcm::implementation();
      fmt::print("{}\n", lat.dump());
      for (const auto& [mib, bps] : r.bytes_per_second) {
        nlohmann::json j = {{"bench", "transport"}, {"mode", r.mode}, {"metric", "throughput"},
                            {"payload_bytes", static_cast<std::uint64_t>(mib) << 20},
                            {"bytes_per_second", bps}, {"reps", r.reps.at(mib)},
                            {"chunk_bytes", o.chunk_kib * 1024}, {"transport", "tcp-loopback"},
                            {"block", o.block}, {"sweep_mib", o.sweep_mib}};
        if (!r.mode.starts_with("raw")) j["cipher"] = r.mode == "off" ? "none" : chorus::wire::cipher_name(used);
        if (aes && !r.mode.starts_with("raw") && r.mode != "off") j["aes_gcm"] = chorus::aes_gcm::implementation();
        if (raw && raw->bytes_per_second.count(mib)) j["vs_raw"] = bps / raw->bytes_per_second.at(mib);
        fmt::print("{}\n", j.dump());
      }
    }
    return 0;
  }
  fmt::print("chorus bench transport: two processes, tcp loopback, chunks of {} KiB, cipher {}\n", o.chunk_kib,
             cipher_label);
  fmt::print("settings taking turns {} transfer{} at a time; {}\n", o.block, o.block == 1 ? "" : "s",
             o.sweep_mib ? fmt::format("{} MiB written before each transfer (payloads not cache-hot)", o.sweep_mib)
                         : std::string("back-to-back transfers (payloads cache-hot)"));
  fmt::print("throughput in GB/s (1e9 bytes/s), median; in brackets: relative to raw ZeroMQ\n\n");
  std::string head = fmt::format("{:<9} {:>9} {:>9}", "mode", "rtt p50", "rtt p99");
  for (int mib : o.sizes_mib) head += fmt::format(" {:>16}", fmt::format("{} MiB", mib));
  fmt::print("{}\n", head);
  for (const auto& r : results) {
    std::string line = fmt::format("{:<9} {:>7.1f}us {:>7.1f}us", r.mode, r.rtt_p50_us, r.rtt_p99_us);
    for (int mib : o.sizes_mib) {
      const double bps = r.bytes_per_second.at(mib);
      std::string cell = fmt::format("{:.2f}", bps / 1e9);
      if (raw && &r != raw) cell += fmt::format(" ({:>3.0f}%)", 100 * bps / raw->bytes_per_second.at(mib));
      line += fmt::format(" {:>16}", cell);
    }
    fmt::print("{}\n", line);
  }
  // The target chorus is held to: encrypted 16 MiB transfers at least 70% of raw ZeroMQ's.
  for (const auto& r : results)
    if (r.mode == "encrypt" && raw && r.bytes_per_second.count(16) && raw->bytes_per_second.count(16)) {
      const double share = r.bytes_per_second.at(16) / raw->bytes_per_second.at(16);
      fmt::print("\ntarget: encrypted 16 MiB at least 70% of raw ZeroMQ ({}): {:.1f}%, {}\n",
                 o.sweep_mib ? fmt::format("--sweep {}", o.sweep_mib) : std::string("cache-hot, --sweep 0"),
                 100 * share, share >= 0.7 ? "met" : "NOT met");
    }
  return 0;
}

const bool registered = chorus::tools::register_bench(
    {"transport", "Transport latency and throughput on loopback: security off / auth / encrypted vs raw ZeroMQ",
     [](CLI::App& app) {
       using chorus::tools::comma_list;
       using chorus::tools::in_range;
       auto o = std::make_shared<Options>();
       app.add_flag("--json", o->json, "One JSON line per measurement");
       comma_list(app.add_option("--sizes", o->sizes_mib, "Payload sizes in MiB, comma-separated"))
           ->check(in_range(1, 256))
           ->capture_default_str();
       comma_list(app.add_option("--modes", o->modes, "Which of raw,raw-whole,off,auth,encrypt to run"))
           ->check(CLI::IsMember({"raw", "raw-whole", "off", "auth", "encrypt"}))
           ->capture_default_str();
       app.add_option("--chunk-kib", o->chunk_kib, "Parameter chunk size in KiB")->capture_default_str()
           ->check(CLI::Range(4, 65536));
       app.add_option("--round-trips", o->round_trips, "Small-message round trips for latency")
           ->capture_default_str()->check(CLI::Range(10, 1000000));
       app.add_option("--reps", o->reps, "Repetitions per payload size (0: by size, 400 at 1 MiB down to 25 at 64 MiB)")->check(CLI::Range(0, 10000));
       app.add_option("--block", o->block,
                      "Transfers each setting makes in a row before the next takes its turn (1: strict alternation)")
           ->capture_default_str()->check(CLI::Range(1, 10000));
       app.add_option("--sweep", o->sweep_mib,
                      "MiB of other memory the sender writes before each transfer, as a training step would "
                      "(0: back-to-back sends from a cache-hot buffer)")
           ->capture_default_str()->check(CLI::Range(0, 4096));
       app.add_option("--cipher", o->cipher, "aes256gcm or xchacha20poly1305 (default: the best this CPU runs)")
           ->check(CLI::IsMember({"aes256gcm", "xchacha20poly1305"}));
       return [o]() -> int { return run(*o); };
     }});

}  // namespace
