#pragma once
// The invariants `chorus chaos` checks, from the peers' JSON-lines logs as a SwarmRunner reads
// them and from the processes' exits (docs/chaos.md explains each bound):
//   1 progress     every live, running peer logs a new step line at least every
//                  max(10 s, 5 × its normal step-line interval, 2 × the suspicion timeout);
//                  a new process has `startup_s` for its first one
//   2 collectives  no "collective" event waits longer than 2 × the membership preset's
//                  longest suspicion (time the peer itself was paused does not count)
//   3 one view     after the faults, every live peer's latest "view" holds exactly the live
//                  peers (checked by the caller through views_agree())
//   4 finite loss  every step line's loss is a finite number
//   5 resume       a restarted peer logs "resume" at a step >= its last "checkpoint" event
//                  before it went down
//   6 no crash     no peer process ends with an error unless the runner killed it
// A peer is live from its launch until it exits, was sent SIGTERM, or logged "leave"/"done".
// Times are the runner's (seconds since the swarm started, when a line was read). The
// checker also sums the swarm's steps per second over two windows (baseline and faults).
// Not thread-safe; the runner calls it from poll() and apply().
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tools/chorus/swarm_runner.h"

namespace chorus::tools {

struct InvariantResult {
  std::string name;
  bool pass = true;
  std::string summary;                // what was checked, or the first violation
  std::vector<std::string> evidence;  // one line per violation (peer, time, values)
};

struct ChaosBounds {
  double min_progress_s = 10;     // the floor of invariant 1's bound
  double step_intervals = 5;      // × a peer's normal step-line interval
  double suspicion_max_s = 3;     // the membership preset's longest suspicion
  double startup_s = 30;          // a new process's allowance for its first step line
};

class ChaosChecker : public SwarmObserver {
 public:
  explicit ChaosChecker(ChaosBounds bounds) : bounds_(bounds) {}

  void launched(const PeerState& peer, double now_s) override;
  void line(const PeerState& peer, const nlohmann::json& line, double now_s) override;
  void paused(const PeerState& peer, double now_s) override;
  void continued(const PeerState& peer, double now_s) override;
  void exited(const PeerState& peer, const PeerExit& exit) override;
  // The runner sent SIGTERM to this peer (a term fault): it is no longer expected to step.
  void leaving(int peer);

  // Checks invariant 1 at `now_s` (call every poll while faults or the settling run).
  void check_progress(double now_s);
  // Violations found since the last call, as "invariant N (name): evidence" lines.
  std::vector<std::string> take_news();
  // Invariant 3 at `now_s`: true when every live peer's latest view holds exactly the live
  // peers' addresses; otherwise `why` says which peer holds what.
  bool views_agree(const std::vector<PeerState>& peers, std::string* why) const;
  void record_views(bool agreed, double at_s, const std::string& evidence);

  // Step-rate windows: steps seen from `from_s` until `to_s` (inclusive of lines read then).
  void set_window(const std::string& name, double from_s, double to_s);
  double steps_per_s(const std::string& name) const;

  // The six invariants, in order, as of now; invariant 3 as recorded.
  std::vector<InvariantResult> results() const;
  bool all_pass() const;
  // Every initial peer (0..peers-1) has logged a step line.
  bool all_stepping(int peers) const;
  // The bound of invariant 1 for this peer (seconds).
  double progress_bound(int peer) const;
  // The median of the peers' normal step-line intervals (seconds), NaN before any is known.
  double normal_interval() const;

 private:
  struct Peer {
    int launch = 0;
    std::string address, out_path;
    bool live = false, paused = false, stepped = false;
    double clock_s = 0;       // invariant 1 counts from here (last step line, launch, continue)
    double paused_s = 0;      // when it was paused (if paused)
    bool overdue = false;     // a violation for this gap was recorded
    std::int64_t step = -1;   // last step of this launch
    double last_t = NAN;      // its "t" at that step line (the peer's own clock)
    std::vector<double> intervals;  // "t" gaps between its step lines (own clock)
    std::vector<std::pair<double, double>> pauses;  // (from, to) in runner time
    std::int64_t checkpoint = -1;        // last "checkpoint" step of this launch
    std::int64_t owed_resume = -1;       // the checkpoint a restart must resume from (-1: none)
    std::set<std::string> view;          // members of the latest view of this launch
    bool has_view = false;
  };
  Peer& peer(const PeerState& p);
  void violate(int invariant, std::string evidence);
  double paused_during(const Peer& p, double from_s, double to_s) const;

  ChaosBounds bounds_;
  std::map<int, Peer> peers_;
  struct Window {
    double from_s, to_s;
    double steps = 0;
  };
  std::map<std::string, Window> windows_;
  std::vector<std::vector<std::string>> violations_ = std::vector<std::vector<std::string>>(6);
  std::vector<std::string> news_;
  std::int64_t step_lines_ = 0, collectives_ = 0, restarts_checked_ = 0, exits_ = 0;
  double longest_collective_s_ = 0;
  int longest_gap_peer_ = -1;
  double longest_gap_s_ = 0;
  bool views_checked_ = false, views_agreed_ = false;
  std::string views_evidence_;
};

}  // namespace chorus::tools
