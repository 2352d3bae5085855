// MembershipTimings presets and checks, and the names of member states and events.
#include "peers/membership/timings.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "foundations/base/error.h"

namespace chorus {

using std::chrono::milliseconds;

// Expected detection of a killed member, n <= 10 members: the first suspicion comes one probe
// interval after the first probe of it starts, about 2 probe intervals after the kill on
// average (1.2-4); it is declared dead suspicion_min later once two others have confirmed
// (they usually have by then), at most suspicion_max later without confirmations.
//   loopback: first suspicion ~0.4 s, dead ~1.4 s (docs/membership.md has the measured times).
MembershipTimings MembershipTimings::loopback() {
  MembershipTimings t;
  t.probe_interval = milliseconds(200);
  t.probe_timeout = milliseconds(100);
  t.indirect_probes = 3;
  t.suspicion_min = milliseconds(1000);
  t.suspicion_max = milliseconds(3000);
  t.suspicion_confirmations = 2;
  t.suspicion_scales_with_size = false;
  t.sync_interval = milliseconds(1000);
  t.join_timeout = milliseconds(1000);
  t.retransmit_mult = 4;
  t.gossip_interval = milliseconds(100);
  t.gossip_nodes = 3;
  return t;
}

// memberlist's DefaultLANConfig: 1 s probes, 500 ms probe timeout, SuspicionMult 4 (so
// suspicion_min = 4 * max(1, log10 n) * 1 s, suspicion_max 6x that, k = 2 confirmations),
// gossip every 200 ms to 3 members, full state sync every 30 s.
//   lan: first suspicion ~2 s, dead ~6 s for n <= 10 (n = 100: ~10 s).
MembershipTimings MembershipTimings::lan() {
  MembershipTimings t;
  t.probe_interval = milliseconds(1000);
  t.probe_timeout = milliseconds(500);
  t.indirect_probes = 3;
  t.suspicion_min = milliseconds(4000);
  t.suspicion_max = milliseconds(24000);
  t.suspicion_confirmations = 2;
  t.suspicion_scales_with_size = true;
  t.sync_interval = milliseconds(30000);
  t.join_timeout = milliseconds(2000);
  t.retransmit_mult = 4;
  t.gossip_interval = milliseconds(200);
  t.gossip_nodes = 3;
  t.reconnect_interval = milliseconds(2000);
  t.reconnect_interval_max = milliseconds(30000);
  return t;
}

// memberlist's DefaultWANConfig: 5 s probes, 3 s probe timeout, SuspicionMult 6 (suspicion_min
// = 6 * max(1, log10 n) * 5 s, suspicion_max 6x that, k = 4), gossip every 500 ms to 4
// members, full state sync every 60 s; tolerates round trips of 100 ms and more.
//   wan: first suspicion ~10 s, dead ~40 s for n <= 10 (k = 4 needs n >= 6; below, 30 s min).
MembershipTimings MembershipTimings::wan() {
  MembershipTimings t;
  t.probe_interval = milliseconds(5000);
  t.probe_timeout = milliseconds(3000);
  t.indirect_probes = 3;
  t.suspicion_min = milliseconds(30000);
  t.suspicion_max = milliseconds(180000);
  t.suspicion_confirmations = 4;
  t.suspicion_scales_with_size = true;
  t.sync_interval = milliseconds(60000);
  t.join_timeout = milliseconds(5000);
  t.retransmit_mult = 4;
  t.gossip_interval = milliseconds(500);
  t.gossip_nodes = 4;
  t.reconnect_interval = milliseconds(10000);
  t.reconnect_interval_max = milliseconds(60000);
  return t;
}

MembershipTimings MembershipTimings::preset(const std::string& name) {
  if (name == "loopback") return loopback();
  if (name == "lan") return lan();
  if (name == "wan") return wan();
  throw UserError(fmt::format("unknown membership preset '{}'; valid presets: loopback, lan, wan", name));
}

const char* member_state_name(MemberState state) {
  switch (state) {
    case MemberState::alive: return "alive";
    case MemberState::suspect: return "suspect";
    case MemberState::dead: return "dead";
    case MemberState::left: return "left";
  }
  return "unknown";
}

const char* membership_event_name(MembershipEvent::Kind kind) {
  switch (kind) {
    case MembershipEvent::Kind::join: return "join";
    case MembershipEvent::Kind::suspect: return "suspect";
    case MembershipEvent::Kind::alive: return "alive";
    case MembershipEvent::Kind::dead: return "dead";
    case MembershipEvent::Kind::leave: return "leave";
  }
  return "unknown";
}

}  // namespace chorus

namespace chorus::membership {

namespace {
void require(bool ok, const char* field, const std::string& what) {
  if (!ok) throw UserError(fmt::format("membership timings: {} {}", field, what));
}
}  // namespace

void validate(const MembershipTimings& t) {
  const milliseconds hour(3600 * 1000);
  require(t.probe_interval.count() > 0 && t.probe_interval <= hour, "probe_interval", "must lie in (0, 1 h]");
  require(t.probe_timeout.count() > 0 && t.probe_timeout < t.probe_interval, "probe_timeout",
          "must be positive and shorter than probe_interval");
  require(t.indirect_probes >= 0 && t.indirect_probes <= 16, "indirect_probes", "must lie in [0, 16]");
  require(t.suspicion_min.count() > 0 && t.suspicion_min <= 24 * hour, "suspicion_min", "must lie in (0, 24 h]");
  require(t.suspicion_max >= t.suspicion_min && t.suspicion_max <= 24 * hour, "suspicion_max",
          "must lie in [suspicion_min, 24 h]");
  require(t.suspicion_confirmations >= 0 && t.suspicion_confirmations <= 64, "suspicion_confirmations",
          "must lie in [0, 64]");
  require(t.sync_interval.count() > 0 && t.sync_interval <= 24 * hour, "sync_interval", "must lie in (0, 24 h]");
  require(t.join_timeout.count() >= 0 && t.join_timeout <= hour, "join_timeout", "must lie in [0, 1 h]");
  require(t.retransmit_mult >= 1 && t.retransmit_mult <= 64, "retransmit_mult", "must lie in [1, 64]");
  require(t.gossip_interval.count() > 0 && t.gossip_interval <= hour, "gossip_interval", "must lie in (0, 1 h]");
  require(t.gossip_nodes >= 0 && t.gossip_nodes <= 64, "gossip_nodes", "must lie in [0, 64]");
  require(t.reconnect_interval.count() > 0 && t.reconnect_interval <= hour, "reconnect_interval",
          "must lie in (0, 1 h]");
  require(t.reconnect_interval_max >= t.reconnect_interval && t.reconnect_interval_max <= hour,
          "reconnect_interval_max", "must lie in [reconnect_interval, 1 h]");
  require(t.reconnect_timeout.count() >= 0 && t.reconnect_timeout <= 24 * 7 * hour, "reconnect_timeout",
          "must lie in [0, 1 week]");
}

milliseconds send_timeout(const MembershipTimings& t) {
  return std::clamp(t.probe_timeout / 4, milliseconds(5), milliseconds(100));
}

SuspicionBounds suspicion_bounds(const MembershipTimings& t, std::size_t live) {
  SuspicionBounds b{t.suspicion_min, t.suspicion_max, t.suspicion_confirmations};
  if (t.suspicion_scales_with_size) {
    const double scale = std::max(1.0, std::log10(static_cast<double>(std::max<std::size_t>(1, live))));
    b.min = milliseconds(static_cast<std::int64_t>(static_cast<double>(t.suspicion_min.count()) * scale));
    b.max = milliseconds(static_cast<std::int64_t>(static_cast<double>(t.suspicion_max.count()) * scale));
  }
  // Members that could confirm: everyone but the suspect and the first accuser.
  if (live < 2 || static_cast<std::size_t>(b.expected_confirmations) > live - 2) b.expected_confirmations = 0;
  return b;
}

int retransmit_limit(const MembershipTimings& t, std::size_t live) {
  const double scale = std::ceil(std::log10(static_cast<double>(live) + 1.0));
  return t.retransmit_mult * std::max(1, static_cast<int>(scale));
}

}  // namespace chorus::membership
