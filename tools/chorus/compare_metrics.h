#pragma once
// What `chorus compare` measures: each peer's JSON-lines log read back as a trace, each
// swarm run's outcome, and per strategy the figures of the summary (final accuracy with its
// spread, time to a target accuracy, steps/s, bytes per peer per step, idle fraction, the
// largest divergence between peers' final parameters) and the curves of the plots.
//
// Pure functions over files the runs left behind (logs, checkpoints); a file that cannot be
// read yields an empty trace, never an exception, so one broken run does not end the
// comparison. Times are seconds since the swarm started. Not thread-safe (no shared state).
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace chorus::tools {

struct EvalPoint {
  std::int64_t step = 0;
  double t_s = 0;         // swarm time of the evaluation
  double acc = 0;         // test accuracy in [0, 1]
  double bytes_sent = 0;  // bytes this peer had sent by then
};

struct LossPoint {
  std::int64_t step = 0;
  double t_s = 0;
  double loss = 0;
};

struct PeerTrace {
  int index = 0;
  double started_s = NAN;         // swarm time at which the peer was started
  bool joined_late = false;
  bool killed_by_fault = false;
  int exit_code = -1;
  std::string checkpoint_dir;
  std::vector<EvalPoint> evals;   // evaluations, and the final one of a finished peer
  std::vector<LossPoint> losses;  // step lines
  std::int64_t first_step = 0;    // the step this run started from (state transfer, resume)
  bool done = false;              // wrote its "done" line
  double final_acc = NAN;
  double wall_s = NAN;            // its training loop's wall time
  std::int64_t steps = 0;         // steps_done at the end
  double bytes_sent = 0, idle_s = 0, comm_s = 0;
  double last_t_s = NAN;          // swarm time of its last log line
  double first_step_t_s = NAN;    // swarm time of its first step in this run
};

// Reads a peer's log; `offset_s` is the swarm time at which the peer (and its log) started.
PeerTrace read_peer_trace(const std::string& log_path, double offset_s);

// The largest pairwise L2 distance between the parameter vectors of the final checkpoints
// in `checkpoint_dirs`, absolute and relative to the mean parameter norm. NaN when fewer
// than two checkpoints could be read (or their sizes differ).
struct ParamDivergence {
  double max_distance = NAN;
  double relative = NAN;
  int compared = 0;
};
ParamDivergence param_divergence(const std::vector<std::string>& checkpoint_dirs);

struct RunResult {
  std::string strategy;
  int repeat = 0;
  std::string status = "ok";  // ok | failed | unavailable | timeout | interrupted | not run
  std::string reason;         // for anything but ok: the first error a peer printed
  double wall_s = NAN;        // swarm start to the last peer's exit
  std::vector<PeerTrace> peers;
  ParamDivergence divergence;
};

// run.json in a run directory: the run's outcome and how each peer was started, so the
// summary can be made again from the run directory alone (chorus compare --report-only).
void write_run_record(const std::string& run_dir, const RunResult& run);
// Reads run.json and the peers' logs and checkpoints beside it; nothing if there is no
// readable record.
std::optional<RunResult> read_run_record(const std::string& run_dir);

struct CurvePoint {
  double x = 0, y = 0;
};

// One row of the summary: a strategy over all its runs (peers × repeats). NaN: no value.
struct StrategySummary {
  std::string strategy;
  std::string status;  // ok, or the first problem seen (failed, unavailable, timeout, …)
  std::string note;    // why, for anything but ok
  int runs = 0, runs_ok = 0;
  int peers_finished = 0;      // peer runs that wrote a final line (accuracy samples)
  double acc_mean = NAN, acc_std = NAN, acc_min = NAN, acc_max = NAN;
  double time_to_target_s = NAN;  // mean over runs that reached it
  int target_reached_runs = 0;
  double steps_per_s = NAN;          // per peer, its training loop's steps over its wall time
  double bytes_per_peer_step = NAN;  // bytes sent by a peer per step it took
  double idle_fraction = NAN;        // time waiting on communication / training wall time
  double divergence_rel = NAN;       // largest over runs of max ‖θi−θj‖ / mean ‖θ‖
  double divergence_abs = NAN;       // the same, absolute
  double wall_s = NAN;               // mean swarm wall time of a run
  double start_s = NAN;              // mean over runs: swarm time when the last initial peer took its first step
  // After every evaluation of any peer of one run (repeat curves_repeat): the mean over live
  // peers of each one's latest test accuracy (a killed peer counts until its last log line);
  // x is the swarm time, or the MB sent so far by all the run's peers divided by their number.
  int curves_repeat = 0;
  std::vector<CurvePoint> acc_vs_time;
  std::vector<CurvePoint> acc_vs_bytes;
  std::vector<CurvePoint> loss_vs_step;  // x: step, y: mean loss of the peers that logged it
};

// Time at which every peer that finished the run had reached `target` (the last of their
// first evaluations at or above it), NaN if one of them never did or none finished.
double time_to_target(const RunResult& run, double target);

StrategySummary summarize(const std::string& strategy, const std::vector<RunResult>& runs, double target);

}  // namespace chorus::tools
