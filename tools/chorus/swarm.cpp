// `chorus swarm`: a whole swarm on this machine in one command — N `chorus peer` processes on
// loopback with ports, a swarm key and a seed list chosen for the user, one progress display,
// every peer's JSON log in one run directory, and a summary table at the end. Every option
// it does not know itself is passed to each peer (e.g. --strategy, --model, --epochs).
// Faults (--fault kill:1@20, stop:2@10+5, join@30, slow:0:3) are applied at their times.
#include <fmt/format.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "foundations/base/error.h"
#include "foundations/base/stop_signals.h"
#include "peers/membership/membership.h"
#include "tools/chorus/command.h"
#include "tools/chorus/option_checks.h"
#include "tools/chorus/swarm_runner.h"

namespace chorus::tools {
namespace {

struct SwarmOptions {
  int peers = 4;
  std::string out;
  std::string membership = "loopback";
  bool no_key = false;
  double stagger_s = 0.3;
  std::vector<std::string> faults;
  std::vector<std::string> peer_args;  // passed through to every peer
};

int run_swarm(const SwarmOptions& o) {
  SwarmPlan plan;
  plan.dir = o.out.empty() ? default_run_dir("") : o.out;
  plan.peers = o.peers;
  plan.membership = o.membership;
  plan.stagger_s = o.stagger_s;
  plan.peer_args = o.peer_args;
  for (const auto& f : o.faults) plan.faults.push_back(parse_fault(f));
  if (!o.no_key) plan.key_path = plan.dir + "/swarm.key";
  SwarmRunner runner(plan);  // checks the plan and every peer's arguments; writes nothing

  const StopSignals stop_signals({.hangup = true, .exit_on_second = false});
  runner.start();  // the run directory, the swarm key, the peers
  fmt::print(stderr, "swarm of {} peers, run directory {}\n", o.peers, plan.dir);
  LiveDisplay display;
  bool announced_stop = false;
  std::size_t faults_shown = 0;
  for (;;) {
    const bool running = runner.poll();
    if (runner.stopping() && !announced_stop) {
      announced_stop = true;
      display.note(runner.timed_out() ? "\nstopping the swarm (time is up)"
                                      : "\nstopping the swarm (peers leave gracefully; Ctrl-C again to kill)");
    }
    for (; faults_shown < runner.fault_log().size(); ++faults_shown)
      display.note("fault: " + runner.fault_log()[faults_shown]);
    const std::string plain = fmt::format("swarm {:.0f}s{}", runner.elapsed_s(), runner.brief());
    if (!running) {
      display.draw(runner.table(), plain);
      display.flush(plain);
      break;
    }
    display.draw(runner.table(), plain);
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }

  // Summary.
  nlohmann::json summary = nlohmann::json::array();
  double acc_sum = 0;
  int acc_n = 0;
  fmt::print("\n{:<5} {:>8} {:>10} {:>9} {:>12} {:>8} {:<8}\n", "peer", "steps", "final acc", "wall s",
             "MB sent", "idle s", "status");
  for (const auto& p : runner.peers()) {
    fmt::print("{:<5} {:>8} {:>10} {:>9.1f} {:>12.1f} {:>8.2f} {:<8}\n", p.index, p.step,
               fmt_or_dash(p.final_acc, "{:.4f}"), p.wall_s, static_cast<double>(p.bytes_sent) / 1e6, p.idle_s,
               SwarmRunner::status_of(p));
    if (std::isfinite(p.final_acc)) acc_sum += p.final_acc, ++acc_n;
    nlohmann::json entry = {
        {"peer", p.index},
        {"address", p.address},
        {"steps", p.step},
        {"final_test_acc", std::isfinite(p.final_acc) ? nlohmann::json(p.final_acc) : nlohmann::json()},
        {"exit_code", p.exit_code},
        {"log", p.log_path}};
    if (p.killed_by_fault) entry["fault"] = "killed";
    if (p.joins_late) entry["joined_late"] = true;
    summary.push_back(entry);
  }
  if (acc_n)
    fmt::print("mean final test accuracy {:.4f} over {} peers; logs in {}\n", acc_sum / acc_n, acc_n, plan.dir);
  std::ofstream(plan.dir + "/summary.json") << summary.dump(2) << "\n";
  const int failed = runner.failed_peers();
  if (failed && !(runner.stopping() && !runner.timed_out())) {
    fmt::print(stderr, "chorus: error: {} peer(s) failed; see {}/peer*.out\n", failed, plan.dir);
    return 1;
  }
  return 0;
}

const bool registered = register_command(
    {"swarm",
     "Run a whole swarm of peers on this machine with one display (options it does not know "
     "go to every peer, e.g. --strategy kavg --model mlp --epochs 2)",
     [](CLI::App& app) -> Action {
       auto o = std::make_shared<SwarmOptions>();
       app.allow_extras();
       app.add_option("--peers", o->peers, "Number of peer processes")->check(CLI::Range(1, 64))->capture_default_str();
       app.add_option("--out", o->out, "Run directory (default: a new one under runs/)");
       app.add_option("--membership", o->membership, "Failure-detection timings of the peers: loopback, lan or wan")
           ->check(checked_by([](const std::string& name) { MembershipTimings::preset(name); }))
           ->capture_default_str();
       app.add_flag("--no-key", o->no_key, "Run without a swarm key (unauthenticated, loopback)");
       app.add_option("--stagger", o->stagger_s, "Seconds the first peer gets before the others start")
           ->check(at_least(0.0))
           ->capture_default_str();
       app.add_option("--fault", o->faults,
                      "Fault at a time (repeatable): kill:PEER@SECONDS, stop:PEER@SECONDS+DURATION, "
                      "join@SECONDS, slow:PEER:FACTOR");
       return [o, &app] {
         o->peer_args = app.remaining();
         return run_swarm(*o);
       };
     }});

}  // namespace
}  // namespace chorus::tools
