#include "tools/chorus/compare_network.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>
#include <thread>

#include "foundations/base/error.h"

namespace chorus::tools {
namespace {

constexpr int kPeerPort = 7000;
constexpr const char* kSwitchAddress = "198.19.0.1";
constexpr const char* kRelaySource = "198.19.0.254";

using CommandResult = CommandOutput;
CommandResult run(const std::vector<std::string>& argv) { return capture_command(argv); }

std::string joined(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

// Runs a setup command; a failure is a UserError quoting the command and its output.
void must(const std::vector<std::string>& argv) {
  const CommandResult r = run(argv);
  if (r.exit_code != 0) {
    std::string out = r.output;
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    throw UserError(fmt::format("network setup failed: `{}`: {}", joined(argv),
                                out.empty() ? fmt::format("exit {}", r.exit_code) : out));
  }
}

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

double profile_number(const std::string& value, const std::string& where) {
  try {
    std::size_t used = 0;
    const double v = std::stod(value, &used);
    if (used == value.size() && std::isfinite(v) && v >= 0) return v;
  } catch (const std::exception&) {
  }
  throw UserError(fmt::format("{}: '{}' is not a non-negative number", where, value));
}

std::string peer_ip(int k) { return fmt::format("198.18.0.{}", k + 1); }
std::string link_ip(int k) { return fmt::format("198.19.0.{}", 10 + k); }

// tbf on one interface: the rate, a burst of at least 128 KiB (GSO packets reach 64 KiB),
// at most 100 ms of queue.
std::vector<std::string> tbf(const std::string& ns, const std::string& dev, const std::string& parent,
                             double rate_mbit) {
  const double bytes_per_s = rate_mbit * 1e6 / 8;
  const auto burst = static_cast<long>(std::max(131072.0, bytes_per_s * 0.002));
  std::vector<std::string> argv = {"ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", dev};
  if (parent.empty()) argv.push_back("root");
  else argv.insert(argv.end(), {"parent", parent});
  argv.insert(argv.end(), {"handle", parent.empty() ? "1:" : "10:", "tbf", "rate", fmt::format("{}kbit", std::llround(rate_mbit * 1000)),
                           "burst", std::to_string(burst), "latency", "100ms"});
  return argv;
}

bool process_alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

}  // namespace

std::string NetProfile::describe() const {
  if (loopback()) return "loopback (127.0.0.1, no emulation)";
  std::string s = fmt::format("{}: one-way delay {} ms", name, delay_ms);
  if (jitter_ms > 0) s += fmt::format(" ± {} ms", jitter_ms);
  s += rate_mbit > 0 ? fmt::format(", {} Mbit/s per peer and direction", rate_mbit) : ", unlimited rate";
  if (loss > 0) s += fmt::format(", {}% loss", loss * 100);
  return s;
}

std::string NetProfile::membership_preset() const {
  if (loopback()) return "loopback";
  return delay_ms + jitter_ms >= 5 ? "wan" : "lan";
}

NetProfile net_profile(const std::string& spec) {
  NetProfile p;
  p.name = spec;
  if (spec == "loopback") return p;
  if (spec == "lan") {
    p.delay_ms = 0.2;
    p.rate_mbit = 1000;
    return p;
  }
  if (spec == "wan") {
    p.delay_ms = 40;
    p.jitter_ms = 10;
    p.rate_mbit = 100;
    p.loss = 0.001;
    return p;
  }
  std::ifstream in(spec);
  if (!in) throw UserError(fmt::format("--net {}: not loopback, lan or wan, and no such file", spec));
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    const auto hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    line = trim(line);
    if (line.empty()) continue;
    const auto eq = line.find_first_of("=:");
    if (eq == std::string::npos)
      throw UserError(fmt::format("{}:{}: expected `key = value`", spec, number));
    const std::string key = trim(line.substr(0, eq));
    std::string value = trim(line.substr(eq + 1));
    const std::string where = fmt::format("{}:{}: {}", spec, number, key);
    if (key == "delay_ms") p.delay_ms = profile_number(value, where);
    else if (key == "jitter_ms") p.jitter_ms = profile_number(value, where);
    else if (key == "rate_mbit") p.rate_mbit = profile_number(value, where);
    else if (key == "loss") {
      const bool percent = !value.empty() && value.back() == '%';
      if (percent) value.pop_back();
      p.loss = profile_number(trim(value), where) / (percent ? 100.0 : 1.0);
      if (p.loss > 1) throw UserError(where + ": a loss probability must be at most 1 (or 100%)");
    } else {
      throw UserError(fmt::format("{}:{}: unknown key '{}' (delay_ms, jitter_ms, loss, rate_mbit)", spec, number, key));
    }
  }
  if (p.jitter_ms > p.delay_ms)
    throw UserError(fmt::format("--net {}: jitter_ms must not exceed delay_ms", spec));
  return p;
}

std::string EmulatedNetwork::namespace_prefix() { return fmt::format("chorus-{}-", getpid()); }
std::string EmulatedNetwork::bridge_ns() { return namespace_prefix() + "br"; }
std::string EmulatedNetwork::ns(int k) { return fmt::format("{}p{}", namespace_prefix(), k); }

int EmulatedNetwork::remove_stale() {
  const CommandResult list = run({"ip", "netns", "list"});
  if (list.exit_code != 0) return 0;
  int removed = 0;
  std::istringstream lines(list.output);
  std::string line;
  while (std::getline(lines, line)) {
    const std::string name = line.substr(0, line.find(' '));
    if (name.rfind("chorus-", 0) != 0) continue;
    const auto dash = name.find('-', 7);
    if (dash == std::string::npos) continue;
    char* end = nullptr;
    const long pid = std::strtol(name.c_str() + 7, &end, 10);
    if (end != name.c_str() + dash || pid <= 0) continue;
    if (process_alive(static_cast<pid_t>(pid))) continue;
    // Whatever a dead chorus left running in it goes with it.
    const CommandResult pids = run({"ip", "netns", "pids", name});
    std::istringstream ps(pids.output);
    long p;
    while (ps >> p)
      if (p > 1) ::kill(static_cast<pid_t>(p), SIGKILL);
    if (run({"ip", "netns", "del", name}).exit_code == 0) ++removed;
  }
  return removed;
}

EmulatedNetwork::EmulatedNetwork(const NetProfile& profile, int slots, const std::string& emulation,
                                 const std::string& work_dir)
    : profile_(profile), slots_(slots), work_dir_(work_dir) {
  check_possible(profile, slots, emulation);
  remove_stale();
  try {
    setup(emulation);
  } catch (...) {
    teardown();
    throw;
  }
}

void EmulatedNetwork::check_possible(const NetProfile& profile, int slots, const std::string& emulation) {
  if (emulation != "auto" && emulation != "netem" && emulation != "relay")
    throw UserError(fmt::format("--emulation {}: choose auto, netem or relay", emulation));
  if (slots < 1 || slots > 200) throw UserError("the emulated network holds 1 to 200 peers");
  if (geteuid() != 0)
    throw UserError(fmt::format("--net {} needs root: each peer runs in its own network namespace (ip netns); "
                                "run as root, or use --net loopback",
                                profile.name));
  if (run({"ip", "-V"}).exit_code != 0 || run({"tc", "-V"}).exit_code != 0)
    throw UserError(fmt::format("--net {} needs iproute2 (ip and tc): apt-get install iproute2", profile.name));
}

EmulatedNetwork::~EmulatedNetwork() { teardown(); }

void EmulatedNetwork::setup(const std::string& emulation) {
  const std::string br = bridge_ns();
  auto in = [](const std::string& ns, std::vector<std::string> argv) {
    argv.insert(argv.begin(), {"ip", "netns", "exec", ns});
    return argv;
  };
  must({"ip", "netns", "add", br});
  namespaces_.push_back(br);
  must({"ip", "-n", br, "link", "set", "lo", "up"});
  must({"ip", "-n", br, "link", "add", "br0", "type", "bridge"});
  must({"ip", "-n", br, "link", "set", "br0", "up"});
  must({"ip", "-n", br, "addr", "add", std::string(kSwitchAddress) + "/24", "dev", "br0"});
  must(in(br, {"sysctl", "-q", "-w", "net.ipv4.ip_forward=1"}));

  // Delay, jitter and loss: netem if the kernel has it (tried here), else the relay.
  bool netem = false;
  if (profile_.impaired() && emulation != "relay") {
    netem = run(in(br, {"tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"})).exit_code == 0;
    if (netem) run(in(br, {"tc", "qdisc", "del", "dev", "lo", "root"}));
    if (!netem && emulation == "netem")
      throw UserError("--emulation netem: this kernel has no netem qdisc (sch_netem); use --emulation relay or auto");
  }
  const bool relay = profile_.impaired() && !netem;

  for (int k = 0; k < slots_; ++k) {
    const std::string p = ns(k);
    must({"ip", "netns", "add", p});
    namespaces_.push_back(p);
    const std::string veth = fmt::format("v{}", k);
    must({"ip", "-n", br, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", p});
    must({"ip", "-n", br, "link", "set", veth, "master", "br0"});
    must({"ip", "-n", br, "link", "set", veth, "up"});
    must({"ip", "-n", p, "link", "set", "lo", "up"});
    must({"ip", "-n", p, "link", "set", "eth0", "up"});
    must({"ip", "-n", p, "addr", "add", link_ip(k) + "/24", "dev", "eth0"});
    must({"ip", "-n", p, "addr", "add", peer_ip(k) + "/32", "dev", "lo"});
    must({"ip", "-n", p, "route", "add", "198.18.0.0/15", "via", kSwitchAddress});
    if (relay) {
      // The switch owns the peer address (the relay listens there); the relay's own
      // connections, from kRelaySource, are routed down the peer's link by table 100.
      must({"ip", "-n", br, "addr", "add", peer_ip(k) + "/32", "dev", "lo"});
      must({"ip", "-n", br, "route", "add", peer_ip(k) + "/32", "via", link_ip(k), "table", "100"});
    } else {
      must({"ip", "-n", br, "route", "add", peer_ip(k) + "/32", "via", link_ip(k)});
    }
    if (netem) {
      std::vector<std::string> argv = in(p, {"tc", "qdisc", "add", "dev", "eth0", "root", "handle", "1:", "netem",
                                             "delay", fmt::format("{}ms", profile_.delay_ms)});
      if (profile_.jitter_ms > 0) argv.push_back(fmt::format("{}ms", profile_.jitter_ms));
      if (profile_.loss > 0) argv.insert(argv.end(), {"loss", fmt::format("{}%", profile_.loss * 100)});
      must(argv);
      if (profile_.rate_mbit > 0) must(tbf(p, "eth0", "1:1", profile_.rate_mbit));
    } else if (profile_.rate_mbit > 0) {
      must(tbf(p, "eth0", "", profile_.rate_mbit));
    }
    if (profile_.rate_mbit > 0) must(tbf(br, veth, "", profile_.rate_mbit));
  }
  if (relay) {
    must({"ip", "-n", br, "addr", "add", std::string(kRelaySource) + "/24", "dev", "br0"});
    must({"ip", "-n", br, "rule", "add", "pref", "10", "from", kRelaySource, "lookup", "100"});
    must({"ip", "-n", br, "rule", "add", "pref", "100", "lookup", "local"});
    must({"ip", "-n", br, "rule", "del", "pref", "0"});
    const std::string chorus = chorus_executable();
    for (int k = 0; k < slots_; ++k) {
      const std::string address = fmt::format("{}:{}", peer_ip(k), kPeerPort);
      relays_.emplace_back(
          std::vector<std::string>{"ip", "netns", "exec", br, chorus, "relay", "--listen", address, "--upstream",
                                   address, "--source", kRelaySource, "--delay-ms", fmt::format("{}", profile_.delay_ms),
                                   "--jitter-ms", fmt::format("{}", profile_.jitter_ms), "--loss",
                                   fmt::format("{}", profile_.loss), "--seed", std::to_string(k + 1)},
          fmt::format("{}/relay{}.out", work_dir_, k));
    }
    // A relay that cannot listen exits at once; give them a moment to bind.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    if (!relays_alive())
      throw UserError(fmt::format("a network relay did not start; see {}/relay*.out", work_dir_));
  }
  const std::string rate = profile_.rate_mbit > 0 ? "rate: tc tbf on both veth ends" : "rate: unlimited";
  if (!profile_.impaired()) mechanism_ = "namespaces + veth + bridge; no delay or loss; " + rate;
  else if (netem) mechanism_ = "namespaces + veth + bridge; delay/jitter/loss: tc netem on each peer's veth; " + rate;
  else
    mechanism_ = "namespaces + veth + bridge; delay/jitter/loss: chorus relay per peer (no sch_netem in this "
                 "kernel); " + rate;
}

bool EmulatedNetwork::relays_alive() {
  for (auto& r : relays_)
    if (!r.running()) return false;
  return true;
}

void EmulatedNetwork::partition(const std::vector<std::vector<int>>& sides) {
  heal();
  for (std::size_t a = 0; a < sides.size(); ++a)
    for (std::size_t b = 0; b < sides.size(); ++b) {
      if (a == b) continue;
      for (int from : sides[a])
        for (int to : sides[b]) {
          if (from < 0 || from >= slots_ || to < 0 || to >= slots_)
            throw UserError(fmt::format("partition: no slot {} in a network of {}", from < 0 || from >= slots_ ? from : to, slots_));
          must({"ip", "-n", ns(from), "route", "add", "blackhole", peer_ip(to) + "/32"});
          blackholes_.emplace_back(from, to);
        }
    }
}

void EmulatedNetwork::heal() {
  std::string failed;
  for (const auto& [from, to] : blackholes_) {
    const CommandResult r = run({"ip", "-n", ns(from), "route", "del", "blackhole", peer_ip(to) + "/32"});
    if (r.exit_code != 0 && failed.empty()) failed = fmt::format("{} in {}: {}", peer_ip(to), ns(from), trim(r.output));
  }
  blackholes_.clear();
  if (!failed.empty()) throw UserError("healing the partition failed: cannot remove the route to " + failed);
}

void EmulatedNetwork::teardown() noexcept {
  for (auto& r : relays_) {
    try {
      r.terminate(std::chrono::milliseconds(2000));
    } catch (...) {
    }
  }
  relays_.clear();
  for (auto it = namespaces_.rbegin(); it != namespaces_.rend(); ++it) {
    try {
      const CommandResult pids = run({"ip", "netns", "pids", *it});
      std::istringstream ps(pids.output);
      long p;
      while (ps >> p)
        if (p > 1) ::kill(static_cast<pid_t>(p), SIGKILL);
      run({"ip", "netns", "del", *it});
    } catch (...) {
    }
  }
  namespaces_.clear();
}

PeerSlot EmulatedNetwork::slot(int index) {
  return {fmt::format("tcp://{}:{}", peer_ip(index), kPeerPort), {"ip", "netns", "exec", ns(index)}};
}

std::vector<PeerSlot> EmulatedNetwork::slots() const { return planned_slots(slots_); }

std::vector<PeerSlot> EmulatedNetwork::planned_slots(int slots) {
  std::vector<PeerSlot> s;
  for (int k = 0; k < slots; ++k) s.push_back(slot(k));
  return s;
}

}  // namespace chorus::tools
