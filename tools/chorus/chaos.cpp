// `chorus chaos`: a swarm of any strategy under random faults (kill, term, stop, restart, join,
// partition) for as long as asked, with invariants checked from the peers' logs as it runs
// (chaos_invariants.h) and a report at the end; exit 0 only when every invariant held. The
// fault schedule comes from one seed (chaos_schedule.h), printed at the start and in a
// "replay:" line on failure. docs/chaos.md has the details.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <thread>

#include "foundations/base/error.h"
#include "foundations/base/stop_signals.h"
#include "peers/membership/membership.h"
#include "tools/chorus/chaos_invariants.h"
#include "tools/chorus/chaos_schedule.h"
#include "tools/chorus/command.h"
#include "tools/chorus/compare_network.h"
#include "tools/chorus/list_option.h"
#include "tools/chorus/option_checks.h"
#include "tools/chorus/swarm_runner.h"

namespace chorus::tools {
namespace {

constexpr double kStartWaitS = 60;  // longest wait for the first step of every initial peer
constexpr double kInf = std::numeric_limits<double>::infinity();

struct ChaosOptions {
  std::string strategy = "kavg";
  int peers = 5;
  double duration_s = 60;
  std::string fault_every;  // empty: 4-8
  std::vector<std::string> faults;
  double baseline_s = 20;
  double settle_s = 10;
  double min_throughput = 0.5;  // of the baseline's steps/s during the faults; 0: not checked
  std::string seed;
  std::string run_dir;
  std::string membership = "loopback";
  std::string script;
  std::vector<std::string> peer_args;  // after --
};

bool has_option(const std::vector<std::string>& args, const std::string& name) {
  for (const auto& a : args)
    if (a == name || a.rfind(name + "=", 0) == 0) return true;
  return false;
}

std::string partition_unavailable() {
  if (geteuid() != 0) return "not running as root (a partition splits network namespaces)";
  if (capture_command({"ip", "netns", "list"}).exit_code != 0) return "`ip netns` is unavailable";
  return {};
}

std::string quoted(const std::string& s) {
  if (!s.empty() && s.find_first_of(" \t'\"$\\|;&<>()*?") == std::string::npos) return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// The command that runs the same schedule again.
std::string replay_command(const ChaosOptions& o, std::uint64_t seed, const std::vector<ChaosKind>& kinds) {
  std::string s = fmt::format(
      "chorus chaos --strategy {} --peers {} --duration {} --baseline {} --settle {} --min-throughput {} --membership {}",
      quoted(o.strategy), o.peers, o.duration_s, o.baseline_s, o.settle_s, o.min_throughput, o.membership);
  if (!o.script.empty()) {
    s += " --script " + quoted(o.script);
  } else {
    std::string list;
    for (ChaosKind k : kinds) list += (list.empty() ? "" : ",") + chaos_kind_name(k);
    s += fmt::format(" --fault-every {} --faults {} --seed {}", o.fault_every.empty() ? "4-8" : o.fault_every, list, seed);
  }
  if (!o.peer_args.empty()) {
    s += " --";
    for (const auto& a : o.peer_args) s += " " + quoted(a);
  }
  return s;
}

struct FaultRow {
  double at_s;
  std::string kind, peers, detail;
};

int run_chaos(ChaosOptions o) {
  // Every argument first: nothing is written or started before they all hold.
  if (o.duration_s <= 0) throw UserError("--duration must be positive");
  if (o.settle_s <= 0) throw UserError("--settle must be positive");
  if (o.baseline_s < 0) throw UserError("--baseline must not be negative");
  for (const char* own : {"--strategy", "--membership"})
    if (has_option(o.peer_args, own))
      throw UserError(fmt::format("{} is an option of chorus chaos itself: give it before --", own));
  if (!o.script.empty() && (!o.faults.empty() || !o.fault_every.empty() || !o.seed.empty()))
    throw UserError("--script is a fixed schedule: leave out --faults, --fault-every and --seed");
  const FaultInterval every = parse_fault_interval(o.fault_every.empty() ? "4-8" : o.fault_every);
  std::vector<ChaosFault> script;
  if (!o.script.empty()) script = parse_chaos_script(o.script, o.peers, o.duration_s);

  std::vector<ChaosKind> kinds;
  for (const auto& name : o.faults) {
    ChaosKind k;
    try {
      k = parse_chaos_kind(name);
    } catch (const UserError& e) {
      throw UserError(std::string("--faults: ") + e.what());
    }
    if (std::find(kinds.begin(), kinds.end(), k) == kinds.end()) kinds.push_back(k);
  }
  const std::string no_partition = partition_unavailable();
  std::string note;
  if (o.faults.empty() && o.script.empty()) {
    for (const auto& name : chaos_kind_names()) kinds.push_back(parse_chaos_kind(name));
    if (!no_partition.empty()) {
      kinds.pop_back();
      note = "note: partition faults left out: " + no_partition;
    }
  }
  bool partitions = std::find(kinds.begin(), kinds.end(), ChaosKind::partition) != kinds.end();
  for (const auto& f : script) partitions = partitions || f.kind == ChaosKind::partition;
  if (partitions && !no_partition.empty())
    throw UserError("partition faults need root and `ip netns`: " + no_partition);

  std::uint64_t seed = 0;
  if (!o.seed.empty()) {
    try {
      std::size_t used = 0;
      seed = std::stoull(o.seed, &used, 10);
      if (used != o.seed.size() || o.seed[0] == '-') throw std::invalid_argument("seed");
    } catch (const std::exception&) {
      throw UserError(fmt::format("--seed {}: expected a non-negative integer", o.seed));
    }
  } else {
    std::random_device rd;
    seed = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    seed %= 1000000000000ULL;  // short enough to type
  }

  // What the peers need for the checks: frequent step lines, checkpoints to restart from,
  // and training that lasts the whole run.
  std::vector<std::string> peer_args = {"--strategy", o.strategy};
  if (!has_option(o.peer_args, "--log-every")) peer_args.insert(peer_args.end(), {"--log-every", "10"});
  if (!has_option(o.peer_args, "--checkpoint-every")) peer_args.insert(peer_args.end(), {"--checkpoint-every", "100"});
  if (!has_option(o.peer_args, "--epochs") && !has_option(o.peer_args, "--max-steps"))
    peer_args.insert(peer_args.end(), {"--epochs", "100000"});
  peer_args.insert(peer_args.end(), o.peer_args.begin(), o.peer_args.end());

  const MembershipTimings timings = MembershipTimings::preset(o.membership);
  ChaosBounds bounds;
  bounds.suspicion_max_s = std::chrono::duration<double>(timings.suspicion_max).count();
  ChaosChecker checker(bounds);

  const int max_peers = ChaosSchedule::max_peers(o.peers);
  SwarmPlan plan;
  plan.dir = o.run_dir.empty() ? default_run_dir("chaos") : o.run_dir;
  plan.peers = o.peers;
  plan.membership = o.membership;
  plan.peer_args = peer_args;
  plan.key_path = plan.dir + "/swarm.key";
  plan.observer = &checker;
  NetProfile profile;
  profile.name = "namespaces";
  if (partitions) {
    EmulatedNetwork::check_possible(profile, max_peers, "auto");
    plan.slots = EmulatedNetwork::planned_slots(max_peers);
  }
  SwarmRunner runner(plan);  // checks every peer's arguments (the strategy among them)

  std::unique_ptr<ChaosSchedule> schedule;
  if (!o.script.empty()) {
    schedule = std::make_unique<ChaosSchedule>(script);
  } else {
    ChaosScheduleSettings settings;
    settings.peers = o.peers;
    settings.kinds = kinds;
    settings.every = every;
    schedule = std::make_unique<ChaosSchedule>(seed, settings);
  }
  const std::string replay = replay_command(o, seed, kinds);

  // Work starts here.
  if (!note.empty()) fmt::print(stderr, "{}\n", note);
  std::string kind_list;
  for (ChaosKind k : kinds) kind_list += (kind_list.empty() ? "" : ",") + chaos_kind_name(k);
  fmt::print(stderr, "chaos: strategy {}, {} peers, seed {}, run directory {}\n", o.strategy, o.peers,
             o.script.empty() ? std::to_string(seed) : "- (scripted)", plan.dir);
  fmt::print(stderr, "chaos: {} for {} s after a {} s baseline; then {} s to settle on one view\n",
             o.script.empty() ? fmt::format("faults {} every {}-{} s", kind_list, every.min_s, every.max_s)
                              : "faults " + o.script,
             o.duration_s, o.baseline_s, o.settle_s);
  std::fflush(stderr);

  const StopSignals stop_signals({.hangup = true, .exit_on_second = false});
  std::unique_ptr<EmulatedNetwork> network;
  if (partitions) network = std::make_unique<EmulatedNetwork>(profile, max_peers, "auto", plan.dir);
  runner.start();

  LiveDisplay display;
  std::vector<FaultRow> rows;
  std::string phase = "starting";
  std::size_t fault_log_shown = 0;
  double heal_at = kInf;
  const auto heal = [&](double now_s) {
    if (!network || !network->partitioned()) return;
    network->heal();
    heal_at = kInf;
    rows.push_back({now_s, "heal", "all", "partition routes removed"});
    display.note(fmt::format("chaos {:.1f} s: partition healed", now_s));
  };
  // One round: poll the runner, show what happened, wait a little; false once the swarm is
  // stopping (Ctrl-C).
  const auto round = [&](bool check_progress) {
    const bool running = runner.poll();
    const double now = runner.elapsed_s();
    if (check_progress && !runner.stopping()) checker.check_progress(now);
    for (; fault_log_shown < runner.fault_log().size(); ++fault_log_shown)
      display.note("fault: " + runner.fault_log()[fault_log_shown]);
    for (const auto& v : checker.take_news()) display.note("FAIL " + v);
    std::vector<std::string> lines = {fmt::format("chaos {} seed {}: {} at {:.0f} s, {} faults", o.strategy,
                                                  o.script.empty() ? std::to_string(seed) : "-", phase, now, rows.size())};
    for (auto& l : runner.table()) lines.push_back(std::move(l));
    display.draw(lines, fmt::format("chaos {:.0f}s {}{}", now, phase, runner.brief()));
    if (runner.stopping() && !running) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    return !runner.stopping();
  };
  const auto wait_until = [&](double until_s, bool check_progress) {
    while (runner.elapsed_s() < until_s)
      if (!round(check_progress)) return false;
    return true;
  };

  bool interrupted = false;
  // Start: every initial peer steps (bounded), then the fault-free baseline.
  const double started = runner.elapsed_s();
  while (!checker.all_stepping(o.peers) && runner.elapsed_s() - started < kStartWaitS)
    if (!round(true)) {
      interrupted = true;
      break;
    }
  if (!interrupted && !checker.all_stepping(o.peers))
    display.note(fmt::format("chaos: not every peer stepped within {:.0f} s; going on", kStartWaitS));
  double b0 = runner.elapsed_s(), b1 = b0, f0 = b0, f1 = b0;
  if (!interrupted) {
    phase = "baseline";
    checker.set_window("baseline", b0, kInf);
    interrupted = !wait_until(b0 + o.baseline_s, true);
    b1 = runner.elapsed_s();
    checker.set_window("baseline", b0, b1);
  }

  // Faults.
  if (!interrupted) {
    phase = "faults";
    f0 = runner.elapsed_s();
    checker.set_window("faults", f0, kInf);
    std::optional<ChaosFault> next = schedule->next();
    while (!interrupted) {
      const double now = runner.elapsed_s();
      if (now >= f0 + o.duration_s) break;
      if (now >= heal_at) heal(now);
      while (next && next->at_s <= o.duration_s && f0 + next->at_s <= now) {
        ChaosFault f = *next;
        next = schedule->next();
        if (f.none) continue;
        if (f.kind == ChaosKind::partition) {
          if (!network) continue;
          // A clean partition: every slot is on one side, so a peer started during it (a join)
          // lands in the smaller half rather than on neither side, where it would reach both
          // halves and relay between them.
          std::vector<std::vector<int>> slots = f.sides;
          if (slots.size() >= 2) {
            auto& smaller = slots[0].size() <= slots[1].size() ? slots[0] : slots[1];
            for (int k = 0; k < max_peers; ++k)
              if (std::none_of(slots.begin(), slots.end(), [k](const std::vector<int>& side) {
                    return std::count(side.begin(), side.end(), k) > 0;
                  }))
                smaller.push_back(k);
          }
          network->partition(slots);
          heal_at = now + f.duration_s;
          std::vector<std::string> named;
          for (const auto& side : f.sides) named.push_back(fmt::format("{}", fmt::join(side, ",")));
          const std::string sides = fmt::format("{}", fmt::join(named, " | "));
          rows.push_back({now, "partition", sides, fmt::format("for {:.1f} s", f.duration_s)});
          display.note(fmt::format("chaos {:.1f} s: {}", now, f.describe()));
          continue;
        }
        Fault rf;
        rf.kind = f.kind == ChaosKind::kill    ? Fault::Kind::kill
                  : f.kind == ChaosKind::term  ? Fault::Kind::term
                  : f.kind == ChaosKind::stop  ? Fault::Kind::stop
                  : f.kind == ChaosKind::join  ? Fault::Kind::join
                                               : Fault::Kind::restart;
        rf.peer = f.peer;
        rf.duration_s = f.duration_s;
        rf.text = f.describe();
        const bool applied = runner.apply(rf);
        const int target = f.kind == ChaosKind::join ? static_cast<int>(runner.peers().size()) - 1 : f.peer;
        if (applied && f.kind == ChaosKind::term) checker.leaving(f.peer);
        std::string detail = applied ? "" : "skipped: not running";
        if (applied && f.kind == ChaosKind::stop) detail = fmt::format("for {:.1f} s", f.duration_s);
        if (applied && (f.kind == ChaosKind::restart || f.kind == ChaosKind::join))
          detail = "at " + runner.peers()[static_cast<std::size_t>(target)].address;
        rows.push_back({now, chaos_kind_name(f.kind), std::to_string(target), detail});
      }
      interrupted = !round(true);
    }
    f1 = runner.elapsed_s();
    checker.set_window("faults", f0, f1);
  }

  // The faults end: paused peers go on, the partition heals; then one view within --settle.
  if (!interrupted) {
    runner.continue_all();
    heal(runner.elapsed_s());
    phase = "settling";
    display.note(fmt::format("chaos {:.1f} s: faults over; {} s for every live peer to hold one view", runner.elapsed_s(),
                             o.settle_s));
    const double s0 = runner.elapsed_s();
    std::string why;
    bool agreed = false;
    while (!(agreed = checker.views_agree(runner.peers(), &why)) && runner.elapsed_s() - s0 < o.settle_s)
      if (!round(true)) {
        interrupted = true;
        break;
      }
    if (!interrupted) {
      const double at = runner.elapsed_s();
      checker.record_views(agreed, at,
                           (agreed ? fmt::format("one view {:.1f} s after the faults ended: ", at - s0)
                                   : fmt::format("no single view {:.0f} s after the faults ended: ", o.settle_s)) +
                               why);
      for (const auto& v : checker.take_news()) display.note("FAIL " + v);
    }
  }

  // Stop every peer (a graceful leave), wait for them, report.
  phase = "stopping";
  if (network) network->heal();
  runner.stop();
  while (round(false) || runner.poll()) {
  }
  display.flush(fmt::format("chaos {:.0f}s {}{}", runner.elapsed_s(), phase, runner.brief()));

  fmt::print("\nfaults applied ({}):\n{:>8}  {:<10} {:<12} {}\n", rows.size(), "time s", "kind", "peer", "detail");
  for (const auto& r : rows) fmt::print("{:>8.1f}  {:<10} {:<12} {}\n", r.at_s, r.kind, r.peers, r.detail);
  const double base_rate = checker.steps_per_s("baseline"), fault_rate = checker.steps_per_s("faults");
  fmt::print("\nswarm steps/s (sum over live peers): baseline {} over {:.0f} s, during faults {} over {:.0f} s, ratio {}\n",
             fmt_or_dash(base_rate, "{:.1f}"), b1 - b0, fmt_or_dash(fault_rate, "{:.1f}"), f1 - f0,
             fmt_or_dash(fault_rate / base_rate, "{:.2f}"));
  // Throughput: a swarm that survives churn but crawls through it has not survived it.
  const double ratio = fault_rate / base_rate;
  const bool throughput_checked = o.min_throughput > 0;
  const bool throughput_ok = !throughput_checked || (std::isfinite(ratio) && ratio >= o.min_throughput);
  if (throughput_checked)
    fmt::print("  {}  throughput: steps/s during the faults {} x the baseline's; bound >= {}\n",
               throughput_ok ? "PASS" : "FAIL", fmt_or_dash(ratio, "{:.2f}"), o.min_throughput);
  fmt::print("\ninvariants:\n");
  const auto results = checker.results();
  nlohmann::json report = {{"seed", seed},
                           {"strategy", o.strategy},
                           {"peers", o.peers},
                           {"interrupted", interrupted},
                           {"baseline_steps_per_s", std::isfinite(base_rate) ? nlohmann::json(base_rate) : nlohmann::json()},
                           {"fault_steps_per_s", std::isfinite(fault_rate) ? nlohmann::json(fault_rate) : nlohmann::json()},
                           {"throughput", {{"ratio", std::isfinite(ratio) ? nlohmann::json(ratio) : nlohmann::json()},
                                           {"bound", o.min_throughput},
                                           {"pass", throughput_ok}}},
                           {"faults", nlohmann::json::array()},
                           {"invariants", nlohmann::json::array()}};
  for (const auto& r : rows)
    report["faults"].push_back({{"t", r.at_s}, {"kind", r.kind}, {"peer", r.peers}, {"detail", r.detail}});
  std::string failed;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    fmt::print("  {}  {} {}: {}\n", r.pass ? "PASS" : "FAIL", i + 1, r.name, r.summary);
    constexpr std::size_t kShown = 12;
    for (std::size_t k = 0; k < r.evidence.size() && k < kShown; ++k) fmt::print("          - {}\n", r.evidence[k]);
    if (r.evidence.size() > kShown) fmt::print("          ({} more in {}/chaos.json)\n", r.evidence.size() - kShown, plan.dir);
    if (!r.pass) failed += (failed.empty() ? "" : ", ") + std::to_string(i + 1);
    report["invariants"].push_back({{"name", r.name}, {"pass", r.pass}, {"summary", r.summary}, {"evidence", r.evidence}});
  }
  std::ofstream(plan.dir + "/chaos.json") << report.dump(2) << "\n";
  fmt::print("\nlogs in {}\n", plan.dir);
  if (interrupted) {
    fmt::print("result: INTERRUPTED (the checks are incomplete)\nreplay: {}\n", replay);
    return 130;
  }
  if (!failed.empty()) {
    fmt::print("result: FAIL (invariant {} failed)\nreplay: {}\n", failed, replay);
    return 1;
  }
  if (!throughput_ok) {
    fmt::print("result: FAIL (throughput during the faults below {} of the baseline)\nreplay: {}\n",
               o.min_throughput, replay);
    return 1;
  }
  fmt::print("result: PASS (all 6 invariants held; seed {})\n", o.script.empty() ? std::to_string(seed) : "-");
  return 0;
}

const char* const kFooter = R"(Runs a swarm of --peers peers of --strategy on this machine: --baseline seconds of
fault-free training (the swarm's steps/s), then --duration seconds of random faults, one
every --fault-every seconds, then --settle seconds for every live peer to hold one view;
then the peers leave and a report follows: the faults applied, the steps/s before and during
the faults (which must be at least --min-throughput of the baseline), and each invariant's
pass/fail with its evidence. Exit code: 0 when all held,
1 when one failed, 2 for a bad argument (nothing is started), 130 when interrupted (Ctrl-C
stops the peers cleanly; a second Ctrl-C kills them).

Faults (--faults, comma-separated; default all):
  kill       SIGKILL a running peer
  term       SIGTERM: the peer leaves gracefully
  stop       SIGSTOP for 1-4 s, then SIGCONT
  restart    start a killed or terminated peer again (or kill a running one and start it
             again) from its checkpoint directory, same stable id, at a new address
  join       a new peer joins through the running peers
  partition  root only: the peers' network namespaces split in two halves for 10-20 s,
             then healed (left out with a note when not root or `ip netns` is missing)
The swarm is kept near --peers running peers: kill, term and stop never leave fewer than
max(2, peers-2); below --peers, restart and join are preferred.

Invariants, checked from the peers' logs as they run:
  1 every live, running peer logs a step at least every max(10 s, 5 x its normal step-line
    interval, 2 x the membership preset's longest suspicion); a new process gets 30 s more
  2 no collective waits longer than 2 x the longest suspicion (loopback: 6 s)
  3 within --settle seconds after the faults, every live peer's latest view holds exactly
    the live peers
  4 every logged loss is finite
  5 a restarted peer resumes at a step >= its last logged checkpoint
  6 no peer process exits with an error unless the tool killed it

The seed (--seed, default random) is printed at the start; on failure a "replay:" line gives
the full command that applies the same fault schedule again. --script replaces the random
schedule by fixed faults (seconds after the baseline): kill:P@S, term:P@S, stop:P@S+D,
restart:P@S, join@S, partition@S+D (peers 0..N/2-1 against the others).
Peer options go after --, e.g. `chorus chaos --strategy kavg -- --k 8 --model mlp`; the tool
adds --log-every 10, --checkpoint-every 100 and --epochs 100000 unless they are given. Every
peer's log (peerK.jsonl; restarts append), output and checkpoints, and chaos.json (the
report), are kept in the run directory. docs/chaos.md explains the bounds.)";

const bool registered = register_command(
    {"chaos", "Run a swarm under random faults and check its invariants (chorus chaos --strategy kavg)",
     [](CLI::App& app) -> Action {
       auto o = std::make_shared<ChaosOptions>();
       app.footer(kFooter);
       app.add_option("--strategy", o->strategy, "Strategy of every peer (chorus peer --help lists them)")
           ->capture_default_str();
       app.add_option("--peers", o->peers, "Peers started at once (the swarm is kept near this many)")
           ->check(CLI::Range(2, 32))
           ->capture_default_str();
       app.add_option("--duration", o->duration_s, "Seconds of faults")->capture_default_str();
       app.add_option("--fault-every", o->fault_every, "Seconds between faults, MIN-MAX [4-8]");
       comma_list(app.add_option("--faults", o->faults,
                                 "Fault kinds to draw from: kill,term,stop,restart,join,partition [all]"));
       app.add_option("--baseline", o->baseline_s, "Seconds of fault-free training first (the steps/s baseline)")
           ->capture_default_str();
       app.add_option("--settle", o->settle_s, "Seconds after the faults for all live peers to hold one view")
           ->capture_default_str();
       app.add_option("--min-throughput", o->min_throughput,
                      "Fail when the swarm's steps/s during the faults fall below this share of the baseline's "
                      "(0: not checked)")
           ->check(CLI::Range(0.0, 1.0))
           ->capture_default_str();
       app.add_option("--seed", o->seed, "Seed of the fault schedule [random, printed]");
       app.add_option("--script", o->script,
                      "Fixed faults instead of random ones: kill:P@S,term:P@S,stop:P@S+D,restart:P@S,join@S,"
                      "partition@S+D");
       app.add_option("--run-dir", o->run_dir, "Run directory (default: a new one under runs/)");
       app.add_option("--membership", o->membership, "Failure-detection timings of the peers: loopback, lan or wan")
           ->check(checked_by([](const std::string& name) { MembershipTimings::preset(name); }))
           ->capture_default_str();
       app.add_option("peer-options", o->peer_args, "Options for every peer, after --");
       return [o] { return run_chaos(*o); };
     }});

}  // namespace
}  // namespace chorus::tools
