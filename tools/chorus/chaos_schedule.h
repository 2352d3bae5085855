#pragma once
// The fault schedule of `chorus chaos`: which fault comes when, to which peer. Either drawn from
// one seeded PRNG (the same seed and settings give the same schedule on every machine), or a
// fixed script. The schedule keeps its own model of the swarm (which peers it took down, which
// it paused, when its partition heals), so its choices depend on the seed and settings only,
// never on how the processes behave; a fault the swarm cannot take is skipped by the runner.
// Times are seconds since the faults began. Not thread-safe.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace chorus::tools {

enum class ChaosKind { kill, term, stop, restart, join, partition };

// kill, term, stop, restart, join, partition.
const std::vector<std::string>& chaos_kind_names();
std::string chaos_kind_name(ChaosKind kind);
// One name of chaos_kind_names(); UserError naming the known ones otherwise.
ChaosKind parse_chaos_kind(const std::string& name);

struct ChaosFault {
  double at_s = 0;
  ChaosKind kind = ChaosKind::kill;
  int peer = -1;                       // kill, term, stop, restart; the new peer's index for join
  double duration_s = 0;               // stop, partition
  std::vector<std::vector<int>> sides;  // partition: peer indices on each side
  bool none = false;                   // nothing the settings allow fitted at this time
  std::string describe() const;        // "stop peer 2 for 3.1 s", "partition 0,3 | 1,2 for 12.0 s"
};

// Seconds between faults: MIN-MAX (or one number), 0 < MIN <= MAX. UserError otherwise.
struct FaultInterval {
  double min_s = 4, max_s = 8;
};
FaultInterval parse_fault_interval(const std::string& text);

// A fixed schedule, comma-separated: kill:P@S, term:P@S, stop:P@S+D, restart:P@S, join@S,
// partition@S+D (peers 0..peers/2-1 against the others). UserError on a bad item, a peer
// outside 0..peers-1, or a time past duration_s.
std::vector<ChaosFault> parse_chaos_script(const std::string& text, int peers, double duration_s);

// SplitMix64: small, fast, and the same sequence everywhere for a seed.
class ChaosRandom {
 public:
  explicit ChaosRandom(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next();
  double uniform(double lo, double hi);  // [lo, hi)
  int below(int n);                      // 0..n-1 (n >= 1)

 private:
  std::uint64_t state_;
};

struct ChaosScheduleSettings {
  int peers = 5;                  // the swarm is kept near this many running peers
  std::vector<ChaosKind> kinds;   // the faults it may choose
  FaultInterval every;
  double stop_min_s = 1, stop_max_s = 4;
  double partition_min_s = 10, partition_max_s = 20;
};

class ChaosSchedule {
 public:
  // Random: every fault drawn from `seed`.
  ChaosSchedule(std::uint64_t seed, ChaosScheduleSettings settings);
  // Scripted: these faults in time order.
  explicit ChaosSchedule(std::vector<ChaosFault> script);

  // The next fault, or nothing when the script is over. A random schedule never ends: the
  // caller stops asking once at_s passes its duration. Random choices keep the swarm near
  // `peers`: below it restart and join are preferred, above it kill and term; kill, term and
  // stop never leave fewer than max(2, peers-2) (at most peers-1) running, unpaused peers;
  // joins stop at 2 × peers peers in all; one partition at a time. At a time at which no
  // enabled kind fits, the fault is `none`.
  std::optional<ChaosFault> next();
  // Most peers a schedule may create (the initial ones and every join).
  static int max_peers(int peers) { return 2 * peers; }

 private:
  enum class State { up, down };
  ChaosFault draw();

  ChaosRandom random_{0};
  ChaosScheduleSettings settings_;
  bool scripted_ = false;
  std::vector<ChaosFault> script_;
  std::size_t script_next_ = 0;
  double now_s_ = 0;
  std::vector<State> state_;
  std::vector<double> paused_until_;
  double partition_until_ = 0;
};

}  // namespace chorus::tools
