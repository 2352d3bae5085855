// transport_test_peer: one chorus peer on a ZeroMQ transport that answers the requests of
// peer_protocol.h, for the attack tests. Prints "READY <address>" once bound; exits on kQuit,
// when its standard input closes (the test went away), or after --lifetime seconds.
//
//   transport_test_peer --bind tcp://127.0.0.1:* [--key FILE] [--no-encrypt]
//                       [--max-payload BYTES] [--lifetime SECONDS] [--stream-to ADDRESS]
//
// With --stream-to it also sends 16 MiB parameter messages to ADDRESS, one after another,
// until it is stopped (or killed mid-message, which is what the tests do).
#include <execinfo.h>
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "foundations/base/error.h"
#include "foundations/crypto/swarm_key.h"
#include "foundations/transport/zmq_transport.h"
#include "tests/transport/peer_protocol.h"

using namespace chorus;
using namespace std::chrono_literals;
namespace peer = chorus_test::peer;

namespace {
// A crash writes its stack to standard error (the test shows it) before dying of the signal.
void on_fatal_signal(int sig) {
  void* frames[64];
  const int n = backtrace(frames, 64);
  const char header[] = "transport_test_peer: fatal signal, stack:\n";
  (void)!::write(2, header, sizeof header - 1);
  backtrace_symbols_fd(frames, n, 2);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}
}  // namespace

int main(int argc, char** argv) {
  for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) ::signal(sig, on_fatal_signal);
  TransportConfig config;
  config.address = "tcp://127.0.0.1:*";
  int lifetime_s = 120;
  std::string stream_to;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "missing value for %s\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--bind") config.address = value();
    else if (a == "--key") config.key = SwarmKey::load(value());
    else if (a == "--no-encrypt") config.encrypt = false;
    else if (a == "--max-payload") config.max_payload_bytes = std::stoull(value());
    else if (a == "--lifetime") lifetime_s = std::stoi(value());
    else if (a == "--stream-to") stream_to = value();
    else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  config.chunk_bytes = std::min<std::size_t>(config.chunk_bytes, config.max_payload_bytes);
  std::atomic<bool> stop{false};
  try {
    auto t = make_zmq_transport(config);
    std::printf("READY %s\n", t->address().c_str());
    std::fflush(stdout);
    std::thread watch([&] {
      char c;
      while (::read(0, &c, 1) > 0) {
      }
      stop = true;
    });
    watch.detach();
    if (!stream_to.empty()) {
      std::thread streamer([&] {
        std::vector<float> data(4 << 20, 0.25f);
        ParamSend meta;
        meta.type = peer::kParams;
        meta.chunk_elements = data.size();
        for (std::uint64_t step = 0; !stop; ++step) {
          meta.step = step;
          const auto sent = t->send_params(stream_to, meta, data, 1s);
          sent.completion.wait_for(5s);
        }
      });
      streamer.detach();
    }
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(lifetime_s);
    while (!stop && std::chrono::steady_clock::now() < end) {
      auto m = t->receive(100ms);
      if (!m) continue;
      switch (m->type) {
        case peer::kEcho:
          t->send(m->from, peer::kEchoReply, m->bytes(), 2s);
          break;
        case peer::kParams: {
          double sum = 0;
          for (float v : m->floats()) sum += v;
          const std::string text = fmt::format("count={} sum={}", m->params->count, sum);
          t->send(m->from, peer::kParamsReply, std::as_bytes(std::span(text.data(), text.size())), 2s);
          break;
        }
        case peer::kStats: {
          nlohmann::json j = nlohmann::json::object();
          const RejectionCounts c = t->rejections();
          for (std::size_t r = 0; r < kRejectReasonCount; ++r)
            j[reject_reason_name(static_cast<RejectReason>(r))] = c.by_reason[r];
          const std::string text = j.dump();
          t->send(m->from, peer::kStatsReply, std::as_bytes(std::span(text.data(), text.size())), 2s);
          break;
        }
        case peer::kQuit:
          stop = true;
          break;
        default:
          break;
      }
    }
  } catch (const UserError& e) {
    std::fprintf(stderr, "transport_test_peer: %s\n", e.what());
    return 2;
  }
  std::fflush(nullptr);
  std::_Exit(0);  // the stdin watcher may still be blocked in read()
}
