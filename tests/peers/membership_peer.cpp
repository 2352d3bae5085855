// membership_peer: one Membership on a ZeroMQ transport, for the multi-process tests. Prints
// one JSON line per event (and a "ready" line once start() returns) to standard output:
//   {"event":"suspect","member":ID,"incarnation":N,"view":NUMBER,"members":[ID,...],"t_ms":T}
// t_ms is CLOCK_MONOTONIC in milliseconds, comparable across processes on one machine.
// Reads commands from standard input: "view" prints the current view ({"event":"view",...}).
// SIGTERM or SIGINT: leaves gracefully (500 ms at most), prints {"event":"left"}, exits 0.
// End of standard input (the test went away): stops and exits 0.
//
//   membership_peer --bind tcp://127.0.0.1:PORT [--seed ADDRESS]... [--preset loopback]
//                   [--group LABEL] [--id N]
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "foundations/base/error.h"
#include "foundations/transport/zmq_transport.h"
#include "peers/membership/membership.h"

using namespace chorus;
using nlohmann::json;

namespace {

std::mutex out_mutex;

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void print(json j) {
  j["t_ms"] = now_ms();
  const std::string line = j.dump() + "\n";
  std::lock_guard lock(out_mutex);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

json describe(const View& v) {
  json ids = json::array();
  for (const auto& m : v.members) ids.push_back(m.id);
  return {{"view", v.number}, {"members", ids}};
}

}  // namespace

int main(int argc, char** argv) {
  TransportConfig config;
  config.address = "tcp://127.0.0.1:*";
  std::vector<std::string> seeds;
  std::string preset = "loopback";
  std::string group;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "missing value for %s\n", a.c_str());
      return 2;
    }
    const std::string v = argv[++i];
    if (a == "--bind") config.address = v;
    else if (a == "--seed") seeds.push_back(v);
    else if (a == "--preset") preset = v;
    else if (a == "--group") group = v;
    else if (a == "--id") config.id = std::stoull(v);
    else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  // Signals are taken by sigtimedwait below, in the main thread only.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  try {
    auto transport = make_zmq_transport(config);
    Member self;
    self.id = transport->id();
    self.address = transport->address();
    self.group = group;
    Membership membership(*transport, self, seeds, MembershipTimings::preset(preset));
    membership.on_change([&membership](const MembershipEvent& e) {
      json j = describe(membership.view());
      j["event"] = membership_event_name(e.kind);
      j["member"] = e.member.id;
      j["incarnation"] = e.member.incarnation;
      j["event_view"] = e.view_number;
      print(j);
    });
    const bool joined = membership.start();
    json ready = describe(membership.view());
    ready["event"] = "ready";
    ready["address"] = transport->address();
    ready["id"] = self.id;
    ready["incarnation"] = membership.incarnation();
    ready["joined"] = joined;
    print(ready);

    std::string pending;
    for (;;) {
      const timespec tick{0, 20'000'000};
      const int sig = sigtimedwait(&signals, nullptr, &tick);
      if (sig == SIGTERM || sig == SIGINT) {
        membership.leave(std::chrono::milliseconds(500));
        print({{"event", "left"}});
        return 0;
      }
      pollfd p{0, POLLIN, 0};
      if (::poll(&p, 1, 0) <= 0) continue;
      char buf[256];
      const ssize_t n = ::read(0, buf, sizeof buf);
      if (n <= 0) break;  // the test went away
      pending.append(buf, static_cast<std::size_t>(n));
      for (std::size_t nl; (nl = pending.find('\n')) != std::string::npos; pending.erase(0, nl + 1)) {
        if (pending.substr(0, nl) == "view") {
          json j = describe(membership.view());
          j["event"] = "view";
          j["incarnation"] = membership.incarnation();
          const MembershipStats s = membership.stats();
          j["malformed"] = s.malformed_dropped;
          j["refutations"] = s.refutations;
          print(j);
        }
      }
    }
    membership.stop();
    return 0;
  } catch (const UserError& e) {
    std::fprintf(stderr, "membership_peer: %s\n", e.what());
    return e.exit_code();
  }
}
