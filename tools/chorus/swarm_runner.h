#pragma once
// SwarmRunner: one swarm of `chorus peer` processes on this machine, as `chorus swarm` and
// `chorus compare` run it. It starts the peers (each with its address, log, checkpoint
// directory and the swarm key, optionally through a command prefix such as
// `ip netns exec NS`), tails their JSON-lines logs for a live display, applies fault
// actions at their times (kill, term, stop/continue, restart, a late join, a slow peer), and
// stops the peers cleanly: SIGTERM (graceful leave), then SIGKILL after a grace period. A
// schedule that decides as it goes (chorus chaos) calls apply() between polls, and a
// SwarmObserver sees every launch, log line, pause and exit.
//
// Times are seconds since start(). poll() never blocks; the caller drives it (every ~250 ms)
// and draws what it likes. The caller holds a StopSignals with hangup (foundations/base/
// stop_signals.h) for as long as it polls; poll() follows its count. The destructor kills
// and reaps every peer still running. Not thread-safe. Bad plans (a fault
// naming a peer that does not exist, a flag the runner sets itself, any option a peer would
// refuse) are UserErrors, raised by the constructor before anything is written or started.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tools/chorus/child_process.h"

namespace chorus::tools {

// A fault applied to a swarm at a time, the same for every run of a comparison.
//   kill:PEER@S         SIGKILL peer PEER S seconds after the swarm started
//   term:PEER@S         SIGTERM it (a graceful leave)
//   stop:PEER@S+D       SIGSTOP it at S, SIGCONT at S+D (a long pause: GC, swap, a hung NIC)
//   restart:PEER@S      start it again (SIGKILL first if it runs) from its checkpoint directory,
//                       same stable id, at a new address, as a rescheduled pod would be
//   join@S              start one more peer at S (it joins through the running peers)
//   slow:PEER:FACTOR    peer PEER runs FACTOR times slower (chorus peer --slowdown)
struct Fault {
  enum class Kind { kill, term, stop, restart, join, slow };
  Kind kind = Kind::kill;
  int peer = -1;
  double at_s = 0;
  double duration_s = 0;
  double factor = 1;
  std::string text;  // as written
};

// Parses one --fault value; throws UserError naming the value and the expected forms.
Fault parse_fault(const std::string& text);

// Where and how one peer is started.
struct PeerSlot {
  std::string address;              // tcp://HOST:PORT the peer listens on
  std::vector<std::string> prefix;  // run before `chorus peer …` (e.g. ip netns exec NS)
};

// The same place with another port: the host of `slot`'s address and a port free on this
// machine's loopback (in a namespace of its own a peer uses no other port).
PeerSlot relocated(const PeerSlot& slot);

class SwarmObserver;

struct SwarmPlan {
  std::string dir;                 // run directory: peerK.jsonl, peerK.out, peerK/ (checkpoints)
  int peers = 4;                   // peers started at once
  // One slot per peer, the initial ones first, then one per join fault; empty: loopback
  // addresses with free ports are chosen.
  std::vector<PeerSlot> slots;
  std::string key_path;            // empty: no key (loopback only)
  std::string membership = "loopback";
  double stagger_s = 0.3;          // head start of the first peer
  std::vector<std::string> peer_args;  // passed to every peer
  std::vector<Fault> faults;
  double timeout_s = 0;            // >0: stop the peers after this long (status "timeout")
  // >0: stop the peers when none has logged a new step (or finished) for this long while
  // some still run (a hung swarm; status "stalled").
  double stall_timeout_s = 0;
  SwarmObserver* observer = nullptr;  // not owned; may be null
};

struct PeerState {
  int index = 0;
  std::string address, log_path, out_path, checkpoint_dir;
  std::vector<std::string> prefix;  // its slot's command prefix
  bool joins_late = false;      // started by a join fault
  bool started = false;
  double started_s = NAN;       // when it was (last) started (swarm time)
  int launches = 0;             // processes started for it (restarts add one each)
  bool killed_by_fault = false;
  bool terminated_by_fault = false;
  bool paused = false;          // stopped by a stop fault, not yet continued
  int exit_code = -1;           // of its latest process; -1: running or not started
  // Why the runner ended its latest process: "kill", "term", "restart", "stop" (the swarm's
  // stop), "kill_all"; empty when the runner did not.
  std::string end_cause;
  ChildProcess process;
  // Latest figures from its log.
  std::int64_t step = 0;
  double loss = NAN, test_acc = NAN, final_acc = NAN, wall_s = 0;
  std::size_t view = 0;
  std::uint64_t bytes_sent = 0;
  double idle_s = 0;
  bool done = false;            // wrote its "done" line
  // Log tailing.
  std::int64_t log_offset = 0;
  std::string pending;
};

// One peer process that ended: which launch of which peer, when, how, and what ended it
// (PeerState::end_cause at the time; empty: it ended by itself).
struct PeerExit {
  int peer = 0;
  int launch = 0;  // 1 for its first process
  double at_s = 0;
  int exit_code = 0;
  std::string cause;
};

// Sees what a SwarmRunner does and reads, from inside poll() and apply(), in order.
class SwarmObserver {
 public:
  virtual ~SwarmObserver() = default;
  virtual void launched(const PeerState& /*peer*/, double /*now_s*/) {}
  // One complete JSON line of the peer's log (lines of a process are all seen before its exit).
  virtual void line(const PeerState& /*peer*/, const nlohmann::json& /*line*/, double /*now_s*/) {}
  virtual void paused(const PeerState& /*peer*/, double /*now_s*/) {}
  virtual void continued(const PeerState& /*peer*/, double /*now_s*/) {}
  virtual void exited(const PeerState& /*peer*/, const PeerExit& /*exit*/) {}
};

class SwarmRunner {
 public:
  // Checks the plan: its own settings, and the exact argument list of every peer (the initial
  // ones and the joiners) as `chorus peer` would parse and check it (check_peer_arguments,
  // peer_options.h). Fixes every peer's address and paths. Writes and starts nothing.
  explicit SwarmRunner(SwarmPlan plan);
  // The constructor's checks alone, for a plan to run later: throws what it would throw.
  static void check(const SwarmPlan& plan);
  ~SwarmRunner();
  SwarmRunner(const SwarmRunner&) = delete;
  SwarmRunner& operator=(const SwarmRunner&) = delete;

  // Creates the run directory, and a new swarm key when plan.key_path names a file that does
  // not exist yet; then starts the initial peers (the first one `stagger_s` ahead of the
  // others). UserError when the directory or the key cannot be written.
  void start();
  // Reaps exits, reads new log lines, applies due faults and the timeout, follows stop
  // signals (StopSignals::count(): the first → stop(), a second → kill_all()). True while any
  // peer runs or a join is still to come.
  bool poll();
  // Graceful stop: SIGTERM to every running peer (SIGCONT first for paused ones); peers not
  // gone after `grace` get SIGKILL from a later poll().
  void stop(std::chrono::seconds grace = std::chrono::seconds(15));
  // SIGKILL to every peer still running (and no more faults or joins).
  void kill_all();
  // Applies a fault now, whatever its time: to a running peer (kill, term, stop for
  // f.duration_s, then continue from a later poll), restart (a peer that is not running, or a
  // running one after SIGKILL, at relocated() of its slot), join (a new peer, index
  // peers().size(), at plan.slots[index] or a loopback address, seeded with the running
  // peers). A fault on a peer that cannot take it is logged as skipped. Ignored once stopping.
  // Returns whether it was applied.
  bool apply(const Fault& f);
  // Sends SIGCONT now to every peer a stop fault paused.
  void continue_all();

  double elapsed_s() const;
  bool stopping() const { return stopping_; }
  bool timed_out() const { return timed_out_; }
  bool stalled() const { return stalled_; }
  const SwarmPlan& plan() const { return plan_; }
  const std::vector<PeerState>& peers() const { return peers_; }
  // Fault actions as applied: "12.0 s kill peer 1".
  const std::vector<std::string>& fault_log() const { return fault_log_; }
  // Every peer process that ended so far, in order.
  const std::vector<PeerExit>& exits() const { return exits_; }
  // Whether an exit counts as a failure: non-zero, and not from a kill or restart the runner
  // applied, nor a signal death after stop() or kill_all().
  static bool failed(const PeerExit& e);
  // Peer processes that ended badly (failed()).
  int failed_peers() const;

  // The live display: a table (one line per peer) and a one-line form for logs.
  std::vector<std::string> table() const;
  std::string brief() const;
  static std::string status_of(const PeerState& p);

 private:
  // What `chorus peer` is given for peer p (the arguments after `chorus peer`).
  std::vector<std::string> peer_arguments(const PeerState& p) const;
  void launch(PeerState& p);
  void apply_faults(double now_s);
  bool apply_now(const Fault& f, double now_s, int joiner);
  void restart(PeerState& p, double now_s);
  void reap(PeerState& p, double now_s);
  void read_log(PeerState& p);
  PeerState& add_peer(bool joins_late);

  SwarmPlan plan_;
  std::vector<PeerState> peers_;
  std::vector<bool> fault_done_;
  std::vector<std::pair<int, double>> resumes_;  // paused peer, when to continue it
  std::vector<PeerExit> exits_;
  std::vector<std::string> fault_log_;
  std::string chorus_;
  std::chrono::steady_clock::time_point start_;
  bool started_ = false, stopping_ = false, timed_out_ = false, stalled_ = false;
  double last_progress_s_ = 0;
  int seen_interrupts_ = 0;
  std::chrono::steady_clock::time_point kill_deadline_ = std::chrono::steady_clock::time_point::max();
};

// Draws a block of lines: on a terminal in place (redrawn each call), elsewhere as one plain
// line every `plain_interval_s` seconds (and on flush()).
class LiveDisplay {
 public:
  explicit LiveDisplay(double plain_interval_s = 5.0);
  void draw(const std::vector<std::string>& lines, const std::string& plain_line);
  // Forces the plain line out (non-terminal) and forgets the drawn block (terminal).
  void flush(const std::string& plain_line);
  // Prints a message above the block.
  void note(const std::string& message);

 private:
  bool tty_;
  double plain_interval_s_;
  std::size_t drawn_ = 0;
  std::chrono::steady_clock::time_point last_plain_;
};

// A free TCP port on 127.0.0.1 (bound and released: another process may take it).
int free_tcp_port();
// runs/<stamp>-<pid>-<label>: a new directory name for a run.
std::string default_run_dir(const std::string& label);
// "0.8512" or "-" for a NaN.
std::string fmt_or_dash(double v, const char* spec);

}  // namespace chorus::tools
