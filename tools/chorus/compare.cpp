// `chorus compare`: the same training run under each strategy, side by side. For every
// strategy (and repeat) it runs a local swarm with the same peers, seed, data shards, model,
// per-peer batch, learning-rate schedule, network and faults, collects every peer's JSON
// log and final checkpoint, and writes summary.md, summary.csv and the plots into --out
// (compare_report.h). Every option, and every peer's argument list under every strategy
// (check_peer_arguments, peer_options.h), is checked before the first file is written or
// the first process started: a strategy this chorus does not have is an error up front. With
// --net lan|wan|FILE every peer runs in its own network namespace behind an emulated link
// (compare_network.h).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "chorus_config.h"
#include "foundations/base/error.h"
#include "foundations/base/stop_signals.h"
#include "foundations/crypto/swarm_key.h"
#include "foundations/data/dataset.h"
#include "foundations/models/model.h"
#include "peers/exchange/strategy_registry.h"
#include "tools/chorus/command.h"
#include "tools/chorus/compare_metrics.h"
#include "tools/chorus/compare_network.h"
#include "tools/chorus/compare_report.h"
#include "tools/chorus/list_option.h"
#include "tools/chorus/option_checks.h"
#include "tools/chorus/swarm_runner.h"

namespace chorus::tools {
namespace {

namespace fs = std::filesystem;

// Every registered strategy that exchanges anything (all but `local`), in the registry's order.
std::vector<std::string> default_strategies() {
  std::vector<std::string> out;
  for (const StrategyRecord& r : strategy_registry().records())
    if (r.exchanges) out.push_back(r.name);
  return out;
}

struct CompareOptions {
  int peers = 4;
  std::vector<std::string> strategies = default_strategies();
  std::string model = "mlp";
  int epochs = 2;
  int batch = 64;
  float lr = 0;
  std::uint64_t seed = 1;
  double target_acc = 0.8;
  int repeat = 1;
  std::string out;
  std::string net = "loopback";
  std::string emulation = "auto";
  std::vector<std::string> faults;
  std::int64_t eval_every = 0;
  std::int64_t max_steps = 0;
  double run_timeout_s = 900;
  double stall_timeout_s = 90;
  double stagger_s = 0.3;
  std::string data_dir = CHORUS_DEFAULT_DATA_DIR;
  bool report_only = false;
  bool target_given = false;
  std::vector<std::string> peer_args;  // passed through to every peer
};

// One entry of --strategies: a strategy name with optional peer options, e.g. kavg/k=8 or
// hier/k1=4/k2=16/groups=size:2 (→ --strategy hier --k1 4 --k2 16 --groups size:2) or
// allreduce/dynamic-weights (a flag). The whole text is the entry's label.
struct StrategySpec {
  std::string label, name;
  std::vector<std::string> args;
};

StrategySpec parse_strategy_spec(const std::string& text) {
  StrategySpec spec;
  spec.label = text;
  std::vector<std::string> parts;
  std::string rest = text;
  for (;;) {
    const auto slash = rest.find('/');
    parts.push_back(rest.substr(0, slash));
    if (slash == std::string::npos) break;
    rest = rest.substr(slash + 1);
  }
  spec.name = parts.front();
  auto valid_word = [](const std::string& w) {
    if (w.empty()) return false;
    for (char c : w)
      if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-'))
        return false;
    return true;
  };
  if (!valid_word(spec.name))
    throw UserError(fmt::format("--strategies: '{}' is not a strategy name (lower-case letters, digits, '-')", text));
  for (std::size_t i = 1; i < parts.size(); ++i) {
    const auto eq = parts[i].find('=');
    const std::string key = parts[i].substr(0, eq);
    if (!valid_word(key))
      throw UserError(fmt::format("--strategies {}: '{}' is not an option (expected NAME/OPTION=VALUE/…)", text,
                                  parts[i]));
    spec.args.push_back("--" + key);
    if (eq != std::string::npos) spec.args.push_back(parts[i].substr(eq + 1));
  }
  return spec;
}

std::string command_line() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string line;
  std::size_t start = 0;
  bool first = true;
  while (start < all.size()) {
    const auto end = all.find('\0', start);
    std::string arg = all.substr(start, end == std::string::npos ? std::string::npos : end - start);
    start = end == std::string::npos ? all.size() : end + 1;
    if (first) {
      arg = "chorus";
      first = false;
    }
    if (arg.find_first_of(" \t'\"") != std::string::npos) arg = "'" + arg + "'";
    line += (line.empty() ? "" : " ") + arg;
  }
  return line;
}

// The first line a failed peer printed that looks like an error.
std::string first_error(const std::string& out_path) {
  std::ifstream in(out_path);
  std::string line;
  while (std::getline(in, line))
    if (line.find("error") != std::string::npos) return line;
  return "";
}

RunResult collect(const std::string& strategy, int repeat, const SwarmRunner& runner, bool interrupted) {
  RunResult r;
  r.strategy = strategy;
  r.repeat = repeat;
  r.wall_s = runner.elapsed_s();
  std::vector<std::string> finished_checkpoints;
  for (const auto& p : runner.peers()) {
    if (!p.started) continue;
    PeerTrace t = read_peer_trace(p.log_path, p.started_s);
    t.index = p.index;
    t.started_s = p.started_s;
    t.joined_late = p.joins_late;
    t.killed_by_fault = p.killed_by_fault;
    t.exit_code = p.exit_code;
    t.checkpoint_dir = p.checkpoint_dir;
    if (t.done && !t.killed_by_fault) finished_checkpoints.push_back(p.checkpoint_dir);
    r.peers.push_back(std::move(t));
  }
  r.divergence = param_divergence(finished_checkpoints);
  if (interrupted) {
    r.status = "interrupted";
  } else if (runner.timed_out()) {
    r.status = "timeout";
    r.reason = fmt::format("stopped after {:.0f} s (--run-timeout)", runner.plan().timeout_s);
  } else if (runner.stalled()) {
    r.status = "stalled";
    r.reason = fmt::format("no peer took a step for {:.0f} s (--stall-timeout); stopped", runner.plan().stall_timeout_s);
  } else if (runner.failed_peers() > 0) {
    r.status = "failed";
    for (const auto& p : runner.peers()) {
      if (!p.started || p.exit_code == 0 || p.killed_by_fault) continue;
      const std::string error = first_error(p.out_path);
      // The peer that explains it best: the first that printed an error.
      if (r.reason.empty() || (!error.empty() && r.reason.find(':') == std::string::npos))
        r.reason = fmt::format("peer {} exit {}{}{}", p.index, p.exit_code, error.empty() ? "" : ": ", error);
    }
  }
  return r;
}

// compare.json in the output directory: the setup and the strategies, written before the
// first run, so --report-only can summarize the runs again.
void write_setup(const std::string& dir, const CompareSetup& s, const std::vector<std::string>& strategies) {
  const nlohmann::json j = {{"command", s.command},   {"peers", s.peers},
                            {"model", s.model},       {"epochs", s.epochs},
                            {"batch", s.batch},       {"lr", s.lr},
                            {"seed", s.seed},         {"target_acc", s.target_acc},
                            {"repeat", s.repeat},     {"eval_every", s.eval_every},
                            {"max_steps", s.max_steps}, {"network", s.network},
                            {"mechanism", s.mechanism}, {"faults", s.faults},
                            {"extra_peer_args", s.extra_peer_args}, {"strategies", strategies}};
  std::ofstream out(dir + "/compare.json");
  out << j.dump(2) << "\n";
  if (!out) throw UserError(dir + "/compare.json: cannot write");
}

CompareSetup read_setup(const std::string& dir, std::vector<std::string>& strategies) {
  const std::string path = dir + "/compare.json";
  std::ifstream in(path);
  if (!in) throw UserError(path + ": not found (--report-only needs the output directory of an earlier comparison)");
  const auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw UserError(path + ": not valid JSON");
  try {
    CompareSetup s;
    s.command = j.at("command").get<std::string>();
    s.peers = j.at("peers").get<int>();
    s.model = j.at("model").get<std::string>();
    s.epochs = j.at("epochs").get<int>();
    s.batch = j.at("batch").get<int>();
    s.lr = j.at("lr").get<std::string>();
    s.seed = j.at("seed").get<std::uint64_t>();
    s.target_acc = j.at("target_acc").get<double>();
    s.repeat = j.at("repeat").get<int>();
    s.eval_every = j.at("eval_every").get<std::int64_t>();
    s.max_steps = j.at("max_steps").get<std::int64_t>();
    s.network = j.at("network").get<std::string>();
    s.mechanism = j.at("mechanism").get<std::string>();
    s.faults = j.at("faults").get<std::vector<std::string>>();
    s.extra_peer_args = j.at("extra_peer_args").get<std::vector<std::string>>();
    strategies = j.at("strategies").get<std::vector<std::string>>();
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw UserError(path + ": " + e.what());
  }
}

// Summarizes, writes summary.csv, the plots and summary.md, prints the table; returns the
// exit code (0: at least one strategy ran cleanly).
int report(const std::string& dir, const CompareSetup& setup, const std::vector<std::string>& strategies,
           std::map<std::string, std::vector<RunResult>>& results) {
  std::vector<StrategySummary> rows;
  for (const auto& strategy : strategies) {
    auto& runs = results[strategy];
    if (runs.empty()) {
      RunResult not_run;
      not_run.strategy = strategy;
      not_run.status = "not run";
      not_run.reason = "the comparison was interrupted first";
      runs.push_back(not_run);
    }
    rows.push_back(summarize(strategy, runs, setup.target_acc));
  }
  write_csv(dir + "/summary.csv", rows);
  const std::string plots = write_plots(dir, rows);
  write_markdown(dir + "/summary.md", setup, rows, plots);

  fmt::print("\n");
  for (const auto& line : summary_table(rows, setup.target_acc)) fmt::print("{}\n", line);
  for (const auto& s : rows)
    if (!s.note.empty()) fmt::print("  {}: {} — {}\n", s.strategy, s.status, s.note);
  fmt::print("summary: {0}/summary.md, {0}/summary.csv; plots {1}\n", dir, plots);
  for (const auto& s : rows)
    if (s.status == "ok") return 0;
  return 1;
}

int report_only(const CompareOptions& o) {
  if (o.out.empty()) throw UserError("--report-only needs --out DIR (the directory of an earlier comparison)");
  std::vector<std::string> strategies;
  CompareSetup setup = read_setup(o.out, strategies);
  if (o.target_given) setup.target_acc = o.target_acc;
  std::map<std::string, std::vector<RunResult>> results;
  for (const auto& strategy : strategies)
    for (int rep = 1; rep <= setup.repeat; ++rep)
      if (auto run = read_run_record(fmt::format("{}/runs/{}/r{}", o.out, file_safe(strategy), rep)))
        results[strategy].push_back(std::move(*run));
  return report(o.out, setup, strategies, results);
}

// The swarm that runs `spec` once, its files under run_dir.
SwarmPlan plan_for(const std::string& run_dir, const StrategySpec& spec, const std::vector<std::string>& peer_args,
                   const CompareOptions& o, const std::vector<PeerSlot>& slots, const std::string& key_path,
                   const NetProfile& profile, const std::vector<Fault>& faults, double stall_timeout) {
  SwarmPlan plan;
  plan.dir = run_dir;
  plan.peers = o.peers;
  plan.slots = slots;
  plan.key_path = key_path;
  plan.membership = profile.membership_preset();
  plan.stagger_s = o.stagger_s;
  plan.peer_args = {"--strategy", spec.name};
  plan.peer_args.insert(plan.peer_args.end(), spec.args.begin(), spec.args.end());
  plan.peer_args.insert(plan.peer_args.end(), peer_args.begin(), peer_args.end());
  plan.faults = faults;
  plan.timeout_s = o.run_timeout_s;
  plan.stall_timeout_s = stall_timeout;
  return plan;
}

int run_compare(CompareOptions& o) {
  if (o.report_only) return report_only(o);
  // Everything is checked before the first file is written or process started.
  const std::vector<std::string>& strategies = o.strategies;
  std::map<std::string, StrategySpec> specs;
  for (const auto& text : strategies) {
    if (specs.count(text)) throw UserError(fmt::format("--strategies: '{}' is named twice", text));
    specs[text] = parse_strategy_spec(text);
    // Options compare sets for every peer stay the same for every strategy.
    const auto& args = specs[text].args;
    for (const auto& a : args)
      for (const char* own : {"--strategy", "--listen", "--seeds", "--key", "--checkpoint", "--log", "--membership",
                              "--min-peers", "--slowdown", "--model", "--epochs", "--batch", "--seed",
                              "--eval-every", "--data", "--max-steps"})
        if (a == own || (a == "--lr" && o.lr > 0))
          throw UserError(fmt::format("--strategies {}: {} is set for every strategy alike; leave it out here", text,
                                      a));
  }
  if (strategies.empty()) throw UserError("--strategies: name at least one strategy");
  std::set<std::string> file_names;
  for (const auto& label : strategies)
    if (!file_names.insert(file_safe(label)).second)
      throw UserError(fmt::format("--strategies: '{}' and another entry would share the file name '{}'", label,
                                  file_safe(label)));
  for (const auto& a : o.peer_args)
    for (const char* own : {"--strategy", "--listen", "--seeds", "--key", "--checkpoint", "--log", "--membership",
                            "--min-peers", "--slowdown"})
      if (a == own || a.rfind(std::string(own) + "=", 0) == 0)
        throw UserError(fmt::format("{} is set by chorus compare for each peer; leave it out", own));

  std::vector<Fault> faults;
  int joins = 0;
  for (const auto& f : o.faults) {
    faults.push_back(parse_fault(f));
    joins += faults.back().kind == Fault::Kind::join;
  }
  for (const auto& f : faults)
    if (f.kind != Fault::Kind::join && f.peer >= o.peers + joins)
      throw UserError(fmt::format("--fault {}: there is no peer {} (peers are 0..{})", f.text, f.peer,
                                  o.peers + joins - 1));
  const NetProfile profile = net_profile(o.net);
  if (!profile.loopback()) EmulatedNetwork::check_possible(profile, o.peers + joins, o.emulation);
  const std::int64_t per_peer = static_cast<std::int64_t>(idx_split_size(o.data_dir, Split::train)) / o.peers;

  const std::string dir = o.out.empty() ? default_run_dir("compare") : o.out;
  const std::string key_path = dir + "/swarm.key";  // one key for every run, made by the first
  std::int64_t total_steps = o.epochs * ((per_peer + o.batch - 1) / o.batch);
  if (o.max_steps > 0) total_steps = std::min(total_steps, o.max_steps);
  const std::int64_t eval_every = o.eval_every > 0 ? o.eval_every : std::max<std::int64_t>(5, total_steps / 12);

  // A stop fault freezes progress for its duration by design: never call that a stall.
  double stall_timeout = o.stall_timeout_s;
  for (const auto& f : faults)
    if (f.kind == Fault::Kind::stop && stall_timeout > 0) stall_timeout = std::max(stall_timeout, f.duration_s + 60);

  std::vector<std::string> peer_args = {"--model", o.model, "--epochs", std::to_string(o.epochs), "--batch",
                                        std::to_string(o.batch), "--seed", std::to_string(o.seed), "--eval-every",
                                        std::to_string(eval_every), "--data", o.data_dir};
  if (o.lr > 0) peer_args.insert(peer_args.end(), {"--lr", fmt::format("{}", o.lr)});
  if (o.max_steps > 0) peer_args.insert(peer_args.end(), {"--max-steps", std::to_string(o.max_steps)});
  peer_args.insert(peer_args.end(), o.peer_args.begin(), o.peer_args.end());

  const auto run_dir_of = [&](const std::string& strategy, int rep) {
    return fmt::format("{}/runs/{}/r{}", dir, file_safe(strategy), rep);
  };
  const std::vector<PeerSlot> planned =
      profile.loopback() ? std::vector<PeerSlot>{} : EmulatedNetwork::planned_slots(o.peers + joins);
  // Every peer of every strategy, as it will be started: one bad option fails here, once.
  for (const auto& strategy : strategies)
    SwarmRunner::check(plan_for(run_dir_of(strategy, 1), specs.at(strategy), peer_args, o, planned, key_path,
                                profile, faults, stall_timeout));

  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw UserError(dir + ": cannot create the output directory: " + ec.message());

  const StopSignals stop_signals({.hangup = true, .exit_on_second = false});
  std::unique_ptr<EmulatedNetwork> network;
  std::string mechanism = "loopback: peers on 127.0.0.1 in this network namespace, no emulation";
  if (!profile.loopback()) {
    fmt::print(stderr, "setting up the emulated network ({})\n", profile.describe());
    network = std::make_unique<EmulatedNetwork>(profile, o.peers + joins, o.emulation, dir);
    mechanism = network->mechanism();
    fmt::print(stderr, "network: {}\n", mechanism);
  }

  CompareSetup setup;
  setup.command = command_line();
  setup.peers = o.peers;
  setup.model = o.model;
  setup.epochs = o.epochs;
  setup.batch = o.batch;
  setup.lr = o.lr > 0 ? fmt::format("{}", o.lr) : "the optimizer's default (sgd: 0.05)";
  setup.seed = o.seed;
  setup.target_acc = o.target_acc;
  setup.repeat = o.repeat;
  setup.eval_every = eval_every;
  setup.max_steps = o.max_steps;
  setup.network = profile.describe();
  setup.mechanism = mechanism;
  setup.faults = o.faults;
  setup.extra_peer_args = o.peer_args;
  write_setup(dir, setup, strategies);

  fmt::print(stderr, "comparing {} strateg{} on {} peers ({} × {}), output in {}\n", strategies.size(),
             strategies.size() == 1 ? "y" : "ies", o.peers, o.model, o.epochs, dir);
  std::map<std::string, std::vector<RunResult>> results;
  LiveDisplay display;
  bool interrupted = false;
  const int total_runs = static_cast<int>(strategies.size()) * o.repeat;
  int run_number = 0;
  for (int rep = 1; rep <= o.repeat && !interrupted; ++rep) {
    for (const auto& strategy : strategies) {
      ++run_number;
      if (interrupted) break;
      if (network && !network->relays_alive()) {
        RunResult r;
        r.strategy = strategy;
        r.repeat = rep;
        r.status = "failed";
        r.reason = fmt::format("a network relay stopped; see {}/relay*.out", dir);
        results[strategy].push_back(r);
        continue;
      }
      const std::string run_dir = run_dir_of(strategy, rep);
      fs::remove_all(run_dir, ec);
      SwarmRunner runner(plan_for(run_dir, specs.at(strategy), peer_args, o,
                                  network ? network->slots() : std::vector<PeerSlot>{}, key_path, profile, faults,
                                  stall_timeout));
      runner.start();
      std::size_t faults_shown = 0;
      std::string last_plain;
      for (;;) {
        const bool running = runner.poll();
        for (; faults_shown < runner.fault_log().size(); ++faults_shown)
          display.note(fmt::format("  {} fault: {}", strategy, runner.fault_log()[faults_shown]));
        const std::string head =
            fmt::format("[{}/{}] {} (repeat {}/{}), {:.0f} s", run_number, total_runs, strategy, rep, o.repeat,
                        runner.elapsed_s());
        std::vector<std::string> lines = {head};
        const auto table = runner.table();
        lines.insert(lines.end(), table.begin(), table.end());
        last_plain = "compare " + head + runner.brief();
        display.draw(lines, last_plain);
        if (!running) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
      }
      display.flush(last_plain);
      interrupted = StopSignals::requested();
      RunResult r = collect(strategy, rep, runner, interrupted);
      write_run_record(run_dir, r);
      double acc = 0;
      int n = 0;
      for (const auto& p : r.peers)
        if (p.done && std::isfinite(p.final_acc) && !p.killed_by_fault) acc += p.final_acc, ++n;
      display.note(fmt::format("{} repeat {}: {}{}, {:.1f} s{}", strategy, rep, r.status,
                               n ? fmt::format(", mean final accuracy {:.4f}", acc / n) : "", r.wall_s,
                               r.reason.empty() ? "" : " — " + r.reason));
      results[strategy].push_back(std::move(r));
    }
  }

  network.reset();  // tear the network down before the (slower) reporting
  const int code = report(dir, setup, strategies, results);
  return interrupted ? 130 : code;
}

const bool registered = register_command(
    {"compare",
     "Run the same training under several strategies (local swarms, same seed, data, model, batch and "
     "schedule; optional emulated network and faults) and write a summary table and plots",
     [](CLI::App& app) -> Action {
       auto o = std::make_shared<CompareOptions>();
       app.allow_extras();
       app.add_option("--peers", o->peers, "Peers in each swarm")->check(CLI::Range(1, 64))->capture_default_str();
       comma_list(app.add_option("--strategies", o->strategies,
                                 "Comma-separated strategies to compare; NAME/OPTION=VALUE/… gives one its own "
                                 "options (kavg/k=1,kavg/k=8, elastic-gossip/overlap=2, allreduce/dynamic-weights)"))
           ->capture_default_str();
       app.add_option("--model", o->model, "Model to train: " + fmt::format("{}", fmt::join(Model::names(), " or ")))
           ->check(CLI::IsMember(Model::names()))
           ->capture_default_str();
       app.add_option("--epochs", o->epochs, "Epochs over each peer's shard")
           ->check(at_least(1))
           ->capture_default_str();
       app.add_option("--batch", o->batch, "Samples per step per peer (total batch: peers × batch)")
           ->check(at_least(1))
           ->capture_default_str();
       app.add_option("--lr", o->lr, "Peak learning rate for every strategy (default: the optimizer's)")
           ->check(at_least(0.0f));
       app.add_option("--seed", o->seed, "Seed of initialisation, sharding and shuffling")->capture_default_str();
       app.add_option("--target-acc", o->target_acc, "Test accuracy whose wall time is reported")
           ->check(in_range(0.0, 1.0, Ends::open_low))
           ->capture_default_str();
       app.add_option("--repeat", o->repeat, "Runs per strategy (spread over repeats)")
           ->check(CLI::Range(1, 100))
           ->capture_default_str();
       app.add_option("--out", o->out, "Output directory (default: a new one under runs/)");
       app.add_option("--net", o->net,
                      "loopback, lan (0.2 ms, 1 Gbit/s), wan (40 ms ± 10 ms, 100 Mbit/s, 0.1% loss), or a "
                      "profile file (delay_ms, jitter_ms, loss, rate_mbit); lan/wan/FILE need root")
           ->capture_default_str();
       app.add_option("--emulation", o->emulation, "Delay/loss mechanism for --net: auto, netem or relay")
           ->check(CLI::IsMember({"auto", "netem", "relay"}))
           ->capture_default_str();
       app.add_option("--fault", o->faults,
                      "Fault applied to every strategy (repeatable): kill:PEER@SECONDS, "
                      "stop:PEER@SECONDS+DURATION, join@SECONDS, slow:PEER:FACTOR");
       app.add_option("--eval-every", o->eval_every, "Steps between test evaluations (default: ~12 per run)")
           ->check(at_least(std::int64_t{0}));
       app.add_option("--max-steps", o->max_steps, "Stop each peer after this many steps (shortened runs)")
           ->check(at_least(std::int64_t{0}));
       app.add_option("--run-timeout", o->run_timeout_s, "Longest one swarm may run, seconds")
           ->check(in_range(0.0, 1e9, Ends::open_low))
           ->capture_default_str();
       app.add_option("--stall-timeout", o->stall_timeout_s,
                      "Stop a swarm in which no peer has taken a step for this long, seconds (0: never)")
           ->check(at_least(0.0))
           ->capture_default_str();
       app.add_option("--stagger", o->stagger_s, "Seconds the first peer gets before the others start")
           ->check(at_least(0.0))
           ->capture_default_str();
       app.add_option("--data", o->data_dir, "Fashion-MNIST directory")->capture_default_str();
       app.add_flag("--report-only", o->report_only,
                    "Summarize the runs already in --out again (no training; --target-acc may change)");
       return [o, &app] {
         o->peer_args = app.remaining();
         o->target_given = app.count("--target-acc") > 0;
         return run_compare(*o);
       };
     }});

}  // namespace
}  // namespace chorus::tools
