// A ring all-reduce peer for the multi-process tests: a ZeroMQ transport on loopback, SWIM
// membership, and one all-reduce (sum) per round of integer-valued data, each outcome written
// as a JSON line to DIR/peer-INDEX.log.
//
//   ring_peer DIR INDEX COUNT LENGTH ROUNDS
//
// It publishes its address as DIR/peer-INDEX.addr, joins through the others', waits until the
// view holds COUNT members, runs ROUNDS rounds (a skipped round continues at the round the
// others are at), then keeps answering until DIR/stop appears (at most 60 s).
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "foundations/transport/zmq_transport.h"
#include "peers/membership/membership.h"
#include "peers/ring/ring_allreduce.h"
#include "peers/ring/ring_session.h"
#include "tests/ring/ring_values.h"

using namespace chorus;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: ring_peer DIR INDEX COUNT LENGTH ROUNDS\n");
    return 2;
  }
  const fs::path dir = argv[1];
  const int index = std::atoi(argv[2]), count = std::atoi(argv[3]);
  const std::size_t length = std::strtoull(argv[4], nullptr, 10);
  const std::uint64_t rounds = std::strtoull(argv[5], nullptr, 10);
  try {
    TransportConfig tc;
    tc.address = "tcp://127.0.0.1:*";
    tc.log = [](const std::string&) {};
    auto transport = make_zmq_transport(tc);
    {
      std::ofstream(dir / fmt::format("peer-{}.addr.tmp", index)) << transport->address() << "\n";
      fs::rename(dir / fmt::format("peer-{}.addr.tmp", index), dir / fmt::format("peer-{}.addr", index));
    }
    std::vector<std::string> seeds;
    for (int i = 0; i < count; ++i) {
      const fs::path p = dir / fmt::format("peer-{}.addr", i);
      const auto until = std::chrono::steady_clock::now() + 20s;
      while (!fs::exists(p) && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(10ms);
      std::string address;
      std::ifstream(p) >> address;
      if (i != index) seeds.push_back(address);
    }
    Member self{transport->id(), transport->address(), "", 0};
    Membership membership(*transport, self, seeds, MembershipTimings::loopback());
    membership.start();
    const auto until = std::chrono::steady_clock::now() + 20s;
    while (membership.view().size() < static_cast<std::size_t>(count) && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(10ms);

    RingAllreduce ring(*transport);
    std::ofstream log(dir / fmt::format("peer-{}.log", index));
    log << fmt::format("{{\"id\":{},\"view\":{}}}", transport->id(), membership.view().size()) << std::endl;
    CollectiveRequest req;
    req.scope = collective_scope("ring-test");
    req.op = ReduceOp::sum;
    req.timeout = 30s;
    req.view = [&] { return ring_view(membership.view()); };
    req.alive = [&](PeerId id) { return membership.is_member(id); };
    std::vector<float> data(length);
    for (std::uint64_t round = 1; round <= rounds;) {
      for (std::size_t k = 0; k < length; ++k) data[k] = ring_test::value(index, k, round);
      req.round = round;
      const auto t0 = std::chrono::steady_clock::now();
      const CollectiveOutcome out = ring.allreduce(data, req);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      double checksum = 0;
      for (float v : data) checksum += v;
      log << fmt::format(
                 "{{\"round\":{},\"status\":\"{}\",\"contributors\":{},\"attempts\":{},\"from_peer\":{},"
                 "\"next\":{},\"checksum\":{:.1f},\"seconds\":{:.4f}}}",
                 round, collective_status_name(out.status), out.contributors, out.attempts, out.from_peer,
                 out.round, checksum, seconds)
          << std::endl;
      round = out.status == CollectiveStatus::skipped ? out.round : round + 1;
      std::this_thread::sleep_for(5ms);  // a training step
    }
    log << "{\"finished\":true}" << std::endl;
    const auto stop_by = std::chrono::steady_clock::now() + 60s;
    while (!fs::exists(dir / "stop") && std::chrono::steady_clock::now() < stop_by) ring.serve(20ms);
    membership.leave(500ms);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ring_peer %d: %s\n", index, e.what());
    return 1;
  }
  return 0;
}
