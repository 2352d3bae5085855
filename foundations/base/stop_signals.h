#pragma once
// StopSignals: the signals that ask a chorus process to stop (SIGINT, SIGTERM, and SIGHUP
// where asked for), counted while an instance lives. What a stop means is the process's own:
// a peer leaves the swarm gracefully at the first and ends at once at the second
// (exit_on_second); a tool supervising child processes stops them cleanly at the first and
// kills them at the second; the relay stops at the first.
//
// The constructor clears the count and installs the handlers; the destructor puts back the
// ones it found. One instance at a time per process (a second is an InvariantError). The
// handlers only count (and, with exit_on_second, call _exit(130)); count() is lock-free and
// may be read from any thread. Nothing blocks.
namespace chorus {

class StopSignals {
 public:
  struct Options {
    bool hangup = false;          // SIGHUP (the terminal went away) counts as a stop too
    bool exit_on_second = false;  // the second signal ends the process at once: _exit(130)
  };

  explicit StopSignals(Options options);
  StopSignals() : StopSignals(Options{}) {}
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // Signals received since the live instance was made; 0 when none lives.
  static int count();
  static bool requested() { return count() > 0; }
};

}  // namespace chorus
