#pragma once
// The emulated network of `chorus compare --net lan|wan|FILE`: every peer in its own network
// namespace, each joined by a veth pair to one bridge namespace (a commodity switch), with
// addresses from the benchmarking range 198.18.0.0/15, which never leaves the machine.
//
//   namespace chorus-<pid>-br    bridge br0 198.19.0.1/24 (the switch, and the router)
//   namespace chorus-<pid>-p<k>  eth0 198.19.0.<10+k>/24 (its link), peer address
//                                198.18.0.<k+1>/32 on lo, 198.18.0.0/15 via the switch
//
// Rate limits: tc tbf on both veth ends (the peer's upload on eth0, its download on the
// switch side). Delay, jitter and loss: tc netem on eth0 where the kernel has sch_netem
// (tried in the switch namespace first); otherwise `chorus relay` processes in the switch
// namespace, one per peer, own the peer addresses there and relay every connection to a
// peer down its link, holding each chunk for the delay ± jitter and stalling it one
// retransmission timeout with the loss probability (relay_delay_line.h). Policy routing
// (relay source address 198.19.0.254 → table 100) sends the relayed connections down the
// veth, so the tbf limits apply in both modes.
//
// Needs root and iproute2 (ip, tc); UserError otherwise, naming what is missing. The
// destructor always tears everything down (relays, namespaces, and with them the links);
// namespaces left by a chorus process that no longer exists are removed on construction.
// Not thread-safe; setup runs `ip`/`tc` commands and blocks for them.
#include <string>
#include <vector>

#include "tools/chorus/child_process.h"
#include "tools/chorus/swarm_runner.h"

namespace chorus::tools {

struct NetProfile {
  std::string name = "loopback";  // loopback, lan, wan, or the profile file's path
  double delay_ms = 0;            // one-way delay between two peers
  double jitter_ms = 0;           // uniform ± around the delay
  double loss = 0;                // probability a segment is lost
  double rate_mbit = 0;           // per peer and direction; 0: unlimited
  bool loopback() const { return name == "loopback"; }
  bool impaired() const { return delay_ms > 0 || jitter_ms > 0 || loss > 0; }
  std::string describe() const;
  std::string membership_preset() const;  // loopback | lan | wan (failure-detection timings)
};

// loopback; lan (0.2 ms, 1 Gbit/s); wan (40 ms ± 10 ms, 100 Mbit/s, 0.1 % loss); or a file of
// `key = value` lines (delay_ms, jitter_ms, loss, rate_mbit; # comments). UserError if bad.
NetProfile net_profile(const std::string& spec);

class EmulatedNetwork {
 public:
  // emulation: auto (netem where available, else the relay), netem, or relay. Runs
  // check_possible first.
  EmulatedNetwork(const NetProfile& profile, int slots, const std::string& emulation, const std::string& work_dir);
  // Whether this process can build such a network: UserError naming what is wrong or missing
  // (the emulation's name, the slot count, root, iproute2). Creates nothing; runs `ip -V` and
  // `tc -V`.
  static void check_possible(const NetProfile& profile, int slots, const std::string& emulation);
  // The slots the network of `slots` peers this process builds will have (slots() once built).
  static std::vector<PeerSlot> planned_slots(int slots);
  ~EmulatedNetwork();
  EmulatedNetwork(const EmulatedNetwork&) = delete;
  EmulatedNetwork& operator=(const EmulatedNetwork&) = delete;

  // Where peer `index` runs: its address and the command prefix that enters its namespace.
  static PeerSlot slot(int index);
  std::vector<PeerSlot> slots() const;
  // How delay/jitter/loss and rate were applied, for the summary.
  const std::string& mechanism() const { return mechanism_; }
  bool uses_relay() const { return !relays_.empty(); }
  const std::vector<std::string>& namespaces() const { return namespaces_; }
  // Every relay still running (a dead relay cuts its peer off).
  bool relays_alive();

  // Splits the slots into sides that cannot reach each other: in every slot's namespace, a
  // blackhole route for each peer address of the other sides (what one side sends to the
  // other is dropped, as by a failed switch between them). Slots named by no side reach
  // everyone. Heals an earlier partition first. UserError when a route cannot be added.
  void partition(const std::vector<std::vector<int>>& sides);
  // Removes the partition's routes (nothing when there is none).
  void heal();
  bool partitioned() const { return !blackholes_.empty(); }

  // Removes namespaces named chorus-<pid>-… whose process is gone (and what runs in them);
  // returns how many.
  static int remove_stale();
  static std::string namespace_prefix();  // chorus-<this pid>-

 private:
  void setup(const std::string& emulation);
  void teardown() noexcept;
  static std::string ns(int k);
  static std::string bridge_ns();

  NetProfile profile_;
  int slots_;
  std::string work_dir_;
  std::string mechanism_;
  std::vector<std::string> namespaces_;  // created so far (torn down in reverse)
  std::vector<ChildProcess> relays_;
  std::vector<std::pair<int, int>> blackholes_;  // (slot whose namespace has the route, slot it drops)
};

}  // namespace chorus::tools
