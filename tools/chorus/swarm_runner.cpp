#include "tools/chorus/swarm_runner.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "foundations/base/error.h"
#include "foundations/base/progress.h"
#include "foundations/base/stop_signals.h"
#include "foundations/crypto/swarm_key.h"
#include "foundations/train/checkpoint_store.h"
#include "tools/chorus/option_checks.h"
#include "tools/chorus/peer_options.h"

namespace chorus::tools {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The training threads' nice value in a swarm (chorus peer --trainer-nice): the lowest CPU
// priority, so that every peer's communication threads run as soon as they wake instead of
// after the trainers' time slices, and merges finish within --overlap steps (docs/gossip.md,
// "Training priority", has the measurements).
constexpr int kSwarmTrainerNice = 19;

int parse_peer(const std::string& s, const std::string& whole) {
  const double v = parse_number(s, "--fault " + whole);
  if (v < 0 || v != std::floor(v) || v > 4096)
    throw UserError(fmt::format("--fault {}: peer '{}' must be a peer index (0, 1, …)", whole, s));
  return static_cast<int>(v);
}

}  // namespace

Fault parse_fault(const std::string& text) {
  const std::string where = "--fault " + text;
  static const std::regex kill_re(R"((kill|term|restart):([^@]+)@(.+))");
  static const std::regex stop_re(R"(stop:([^@]+)@([^+]+)\+(.+))");
  static const std::regex join_re(R"(join@(.+))");
  static const std::regex slow_re(R"(slow:([^:]+):(.+))");
  Fault f;
  f.text = text;
  std::smatch m;
  if (std::regex_match(text, m, kill_re)) {
    f.kind = m[1] == "kill" ? Fault::Kind::kill : m[1] == "term" ? Fault::Kind::term : Fault::Kind::restart;
    f.peer = parse_peer(m[2], text);
    f.at_s = parse_number(m[3], where);
  } else if (std::regex_match(text, m, stop_re)) {
    f.kind = Fault::Kind::stop;
    f.peer = parse_peer(m[1], text);
    f.at_s = parse_number(m[2], where);
    f.duration_s = parse_number(m[3], where);
    if (f.duration_s <= 0)
      throw UserError(fmt::format("--fault {}: the stop duration must be positive", text));
  } else if (std::regex_match(text, m, join_re)) {
    f.kind = Fault::Kind::join;
    f.at_s = parse_number(m[1], where);
  } else if (std::regex_match(text, m, slow_re)) {
    f.kind = Fault::Kind::slow;
    f.peer = parse_peer(m[1], text);
    f.factor = parse_number(m[2], where);
    if (f.factor < 1)
      throw UserError(fmt::format("--fault {}: the slowdown factor must be at least 1", text));
  } else {
    throw UserError(fmt::format("--fault '{}': expected kill:PEER@SECONDS, term:PEER@SECONDS, "
                                "stop:PEER@SECONDS+DURATION, restart:PEER@SECONDS, join@SECONDS or slow:PEER:FACTOR",
                                text));
  }
  if (f.at_s < 0) throw UserError(fmt::format("--fault {}: the time must not be negative", text));
  return f;
}

int free_tcp_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw UserError("cannot create a socket to find a free port");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw UserError("cannot find a free TCP port on 127.0.0.1");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

PeerSlot relocated(const PeerSlot& slot) {
  const auto colon = slot.address.rfind(':');
  const std::string host = colon == std::string::npos ? "tcp://127.0.0.1" : slot.address.substr(0, colon);
  std::string address;
  do address = fmt::format("{}:{}", host, free_tcp_port());
  while (address == slot.address);
  return {address, slot.prefix};
}

std::string default_run_dir(const std::string& label) {
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  return label.empty() ? fmt::format("runs/{}-{}", stamp, getpid())
                       : fmt::format("runs/{}-{}-{}", label, stamp, getpid());
}

std::string fmt_or_dash(double v, const char* spec) {
  return std::isfinite(v) ? fmt::format(fmt::runtime(spec), v) : "-";
}

SwarmRunner::SwarmRunner(SwarmPlan plan) : plan_(std::move(plan)) {
  if (plan_.peers < 1 || plan_.peers > 64) throw UserError("--peers must be between 1 and 64");
  for (const auto& a : plan_.peer_args)
    for (const char* own : {"--listen", "--seeds", "--key", "--checkpoint", "--log"})
      if (a == own || a.rfind(std::string(own) + "=", 0) == 0)
        throw UserError(fmt::format("{} is chosen for each peer by the swarm; leave it out", own));
  int joins = 0;
  for (const auto& f : plan_.faults) joins += f.kind == Fault::Kind::join;
  const int total = plan_.peers + joins;
  for (const auto& f : plan_.faults)
    if (f.kind != Fault::Kind::join && f.peer >= total)
      throw UserError(fmt::format("--fault {}: there is no peer {} (peers are 0..{})", f.text, f.peer,
                                  total - 1));
  if (plan_.slots.empty()) {
    for (int i = 0; i < total; ++i)
      plan_.slots.push_back({fmt::format("tcp://127.0.0.1:{}", free_tcp_port()), {}});
  }
  if (static_cast<int>(plan_.slots.size()) < total)
    throw UserError(fmt::format("the swarm needs {} peer slots, {} were prepared", total, plan_.slots.size()));

  chorus_ = chorus_executable();
  for (int i = 0; i < total; ++i) add_peer(i >= plan_.peers);
  for (const auto& p : peers_) check_peer_arguments(peer_arguments(p));
  // A peer apply() may add or restart later gets the arguments of a late joiner.
  PeerState later;
  later.index = total;
  later.address = relocated(plan_.slots.back()).address;
  later.log_path = plan_.dir + "/later.jsonl";
  later.checkpoint_dir = plan_.dir + "/later";
  later.joins_late = true;
  check_peer_arguments(peer_arguments(later));
  fault_done_.assign(plan_.faults.size(), false);
}

SwarmRunner::~SwarmRunner() {
  plan_.observer = nullptr;
  kill_all();
}

PeerState& SwarmRunner::add_peer(bool joins_late) {
  const int i = static_cast<int>(peers_.size());
  PeerState& p = peers_.emplace_back();
  p.index = i;
  const PeerSlot slot = i < static_cast<int>(plan_.slots.size())
                            ? plan_.slots[static_cast<std::size_t>(i)]
                            : PeerSlot{fmt::format("tcp://127.0.0.1:{}", free_tcp_port()), {}};
  p.address = slot.address;
  p.prefix = slot.prefix;
  p.log_path = fmt::format("{}/peer{}.jsonl", plan_.dir, i);
  p.out_path = fmt::format("{}/peer{}.out", plan_.dir, i);
  p.checkpoint_dir = fmt::format("{}/peer{}", plan_.dir, i);
  p.joins_late = joins_late;
  return p;
}

void SwarmRunner::check(const SwarmPlan& plan) { SwarmRunner{plan}; }

std::vector<std::string> SwarmRunner::peer_arguments(const PeerState& p) const {
  std::vector<std::string> args = {"--listen", p.address, "--log", p.log_path, "--checkpoint", p.checkpoint_dir,
                                   "--membership", plan_.membership};
  if (p.joins_late || p.launches > 0) {
    // A late joiner or a restarted peer goes through every running peer (any one alive will
    // do), or the initial peers before any runs, and does not wait.
    std::string seeds;
    for (const auto& q : peers_)
      if (q.index != p.index && q.started && q.exit_code < 0) seeds += (seeds.empty() ? "" : ",") + q.address;
    if (seeds.empty())
      for (int i = 0; i < plan_.peers && i < static_cast<int>(peers_.size()); ++i)
        if (i != p.index) seeds += (seeds.empty() ? "" : ",") + peers_[static_cast<std::size_t>(i)].address;
    if (!seeds.empty()) args.insert(args.end(), {"--seeds", seeds});
    args.insert(args.end(), {"--min-peers", "1"});
  } else {
    args.insert(args.end(), {"--min-peers", std::to_string(plan_.peers)});
    if (p.index > 0) args.insert(args.end(), {"--seeds", peers_[0].address});
  }
  if (!plan_.key_path.empty()) args.insert(args.end(), {"--key", plan_.key_path});
  // All the peers share this machine's cores: their communication threads should preempt
  // training (merges then finish within --overlap steps), unless the arguments say otherwise.
  if (std::none_of(plan_.peer_args.begin(), plan_.peer_args.end(),
                   [](const std::string& a) { return a.rfind("--trainer-nice", 0) == 0; }))
    args.insert(args.end(), {"--trainer-nice", std::to_string(kSwarmTrainerNice)});
  args.insert(args.end(), plan_.peer_args.begin(), plan_.peer_args.end());
  for (const auto& f : plan_.faults)
    if (f.kind == Fault::Kind::slow && f.peer == p.index)
      args.insert(args.end(), {"--slowdown", fmt::format("{}", f.factor)});
  return args;
}

void SwarmRunner::launch(PeerState& p) {
  std::vector<std::string> args = p.prefix;
  args.insert(args.end(), {chorus_, "peer"});
  const std::vector<std::string> own = peer_arguments(p);
  args.insert(args.end(), own.begin(), own.end());
  if (p.launches > 0) {
    // A restart appends to the output of the earlier processes (the shell execs the peer, so
    // the pid is the peer's).
    std::ofstream(p.out_path, std::ios::app) << fmt::format("--- launch {} at {}\n", p.launches + 1, p.address);
    args.insert(args.begin(), {"sh", "-c", "exec \"$@\" >>\"$0\" 2>&1", p.out_path});
  }
  p.process = ChildProcess(args, p.launches > 0 ? "" : p.out_path);
  p.started = true;
  ++p.launches;
  p.started_s = elapsed_s();
  p.exit_code = -1;
  p.end_cause.clear();
  p.paused = p.killed_by_fault = p.terminated_by_fault = p.done = false;
  if (plan_.observer) plan_.observer->launched(p, p.started_s);
}

void SwarmRunner::start() {
  if (started_) return;
  std::error_code ec;
  fs::create_directories(plan_.dir, ec);
  if (ec) throw UserError(plan_.dir + ": cannot create the run directory: " + ec.message());
  if (!plan_.key_path.empty() && !fs::exists(plan_.key_path)) SwarmKey::generate().save(plan_.key_path);
  started_ = true;
  start_ = Clock::now();
  for (int i = 0; i < plan_.peers; ++i) {
    launch(peers_[static_cast<std::size_t>(i)]);
    if (i == 0 && plan_.peers > 1)
      std::this_thread::sleep_for(std::chrono::duration<double>(plan_.stagger_s));
  }
}

double SwarmRunner::elapsed_s() const {
  return started_ ? std::chrono::duration<double>(Clock::now() - start_).count() : 0.0;
}

void SwarmRunner::apply_faults(double now_s) {
  int join_index = plan_.peers;
  for (std::size_t i = 0; i < plan_.faults.size(); ++i) {
    const Fault& f = plan_.faults[i];
    const int joiner = f.kind == Fault::Kind::join ? join_index++ : -1;
    if (f.kind == Fault::Kind::slow) continue;  // applied at launch
    if (!fault_done_[i] && now_s >= f.at_s) {
      fault_done_[i] = true;
      apply_now(f, now_s, joiner);
    }
  }
  for (auto it = resumes_.begin(); it != resumes_.end();) {
    if (now_s < it->second) {
      ++it;
      continue;
    }
    PeerState& p = peers_[static_cast<std::size_t>(it->first)];
    it = resumes_.erase(it);
    if (!p.paused) continue;
    p.paused = false;
    p.process.signal(SIGCONT);
    fault_log_.push_back(fmt::format("{:.1f} s: peer {} continues", now_s, p.index));
    if (plan_.observer) plan_.observer->continued(p, now_s);
  }
}

bool SwarmRunner::apply(const Fault& f) {
  if (!started_) start();
  if (stopping_) return false;
  return apply_now(f, elapsed_s(), -1);
}

bool SwarmRunner::apply_now(const Fault& f, double now_s, int joiner) {
  if (f.kind == Fault::Kind::slow) return false;
  if (f.kind == Fault::Kind::join) {
    PeerState& p = joiner >= 0 ? peers_[static_cast<std::size_t>(joiner)] : add_peer(true);
    launch(p);
    fault_log_.push_back(fmt::format("{:.1f} s: peer {} joins at {}", now_s, p.index, p.address));
    return true;
  }
  if (f.peer < 0 || f.peer >= static_cast<int>(peers_.size())) {
    fault_log_.push_back(fmt::format("{:.1f} s: {} skipped (there is no peer {})", now_s, f.text, f.peer));
    return false;
  }
  PeerState& p = peers_[static_cast<std::size_t>(f.peer)];
  reap(p, now_s);
  if (f.kind == Fault::Kind::restart) {
    restart(p, now_s);
    return true;
  }
  if (!p.started || p.exit_code >= 0 || (f.kind == Fault::Kind::stop && p.paused)) {
    fault_log_.push_back(fmt::format("{:.1f} s: {} skipped (peer {} is not running)", now_s, f.text, f.peer));
    return false;
  }
  if (f.kind == Fault::Kind::kill) {
    p.killed_by_fault = true;
    p.end_cause = "kill";
    p.process.signal(SIGKILL);
    fault_log_.push_back(fmt::format("{:.1f} s: peer {} killed", now_s, f.peer));
  } else if (f.kind == Fault::Kind::term) {
    p.terminated_by_fault = true;
    p.end_cause = "term";
    if (p.paused) {
      p.paused = false;
      p.process.signal(SIGCONT);
      if (plan_.observer) plan_.observer->continued(p, now_s);
    }
    p.process.signal(SIGTERM);
    fault_log_.push_back(fmt::format("{:.1f} s: peer {} terminated (leaves gracefully)", now_s, f.peer));
  } else {
    p.paused = true;
    p.process.signal(SIGSTOP);
    resumes_.emplace_back(p.index, now_s + f.duration_s);
    fault_log_.push_back(fmt::format("{:.1f} s: peer {} stopped for {:.1f} s", now_s, f.peer, f.duration_s));
    if (plan_.observer) plan_.observer->paused(p, now_s);
  }
  return true;
}

void SwarmRunner::restart(PeerState& p, double now_s) {
  if (p.started && p.exit_code < 0) {
    p.end_cause = "restart";
    p.killed_by_fault = true;
    p.process.signal(SIGKILL);
    p.process.wait();
    reap(p, now_s);
  }
  if (p.launches > 0) {
    // Without a checkpoint the new process starts its log afresh: keep the old one beside it.
    if (!fs::exists(CheckpointStore(p.checkpoint_dir).checkpoint_path())) {
      std::error_code ec;
      fs::copy_file(p.log_path, fmt::format("{}.{}", p.log_path, p.launches), fs::copy_options::overwrite_existing, ec);
      std::ofstream(p.log_path, std::ios::trunc);
      p.log_offset = 0;
      p.pending.clear();
    }
    const PeerSlot slot = relocated({p.address, p.prefix});
    p.address = slot.address;
    p.prefix = slot.prefix;
  }
  launch(p);
  fault_log_.push_back(fmt::format("{:.1f} s: peer {} restarted at {}", now_s, p.index, p.address));
}

void SwarmRunner::reap(PeerState& p, double now_s) {
  if (!p.started || p.exit_code >= 0 || p.process.running()) return;
  p.exit_code = p.process.exit_code();
  p.paused = false;
  read_log(p);  // everything it wrote, before its exit is told
  const PeerExit e{p.index, p.launches, now_s, p.exit_code, p.end_cause};
  exits_.push_back(e);
  if (plan_.observer) plan_.observer->exited(p, e);
}

bool SwarmRunner::poll() {
  if (!started_) start();
  const int interrupts = StopSignals::count();
  if (interrupts > seen_interrupts_) {
    seen_interrupts_ = interrupts;
    if (!stopping_) stop();
    else kill_all();
  }
  const double now_s = elapsed_s();
  if (!stopping_) apply_faults(now_s);
  if (!stopping_ && plan_.timeout_s > 0 && now_s > plan_.timeout_s) {
    timed_out_ = true;
    stop(std::chrono::seconds(10));
  }
  if (stopping_ && Clock::now() > kill_deadline_) kill_all();

  bool any = false;
  for (auto& p : peers_) {
    if (p.started) {
      const std::int64_t step = p.step;
      const bool done = p.done;
      reap(p, now_s);
      read_log(p);
      if (p.step != step || p.done != done) last_progress_s_ = now_s;
    }
    any = any || (p.started && p.exit_code < 0);
  }
  if (any && !stopping_ && plan_.stall_timeout_s > 0 && now_s - last_progress_s_ > plan_.stall_timeout_s) {
    stalled_ = true;
    stop(std::chrono::seconds(10));
  }
  if (!stopping_) {
    for (std::size_t i = 0; i < plan_.faults.size(); ++i)
      if (plan_.faults[i].kind == Fault::Kind::join && !fault_done_[i]) any = true;
  }
  return any;
}

void SwarmRunner::continue_all() {
  const double now_s = elapsed_s();
  for (auto& p : peers_) {
    if (!p.paused) continue;
    p.paused = false;
    p.process.signal(SIGCONT);
    fault_log_.push_back(fmt::format("{:.1f} s: peer {} continues", now_s, p.index));
    if (plan_.observer) plan_.observer->continued(p, now_s);
  }
  resumes_.clear();
}

void SwarmRunner::stop(std::chrono::seconds grace) {
  if (stopping_) return;
  continue_all();
  stopping_ = true;
  for (auto& p : peers_) {
    if (!p.started || !p.process.running()) continue;
    if (p.end_cause == "term") continue;  // leaving already: a second SIGTERM would end it at once
    if (p.end_cause.empty()) p.end_cause = "stop";
    p.process.signal(SIGTERM);
  }
  kill_deadline_ = Clock::now() + grace;
}

void SwarmRunner::kill_all() {
  stopping_ = true;  // no more faults or joins
  const double now_s = elapsed_s();
  for (auto& p : peers_) {
    if (!p.started || p.exit_code >= 0) continue;
    if (p.process.running()) {
      if (p.end_cause.empty()) p.end_cause = "kill_all";
      p.process.signal(SIGCONT);
      p.process.signal(SIGKILL);
      p.process.wait();
    }
    reap(p, now_s);
  }
}

bool SwarmRunner::failed(const PeerExit& e) {
  if (e.exit_code == 0 || e.cause == "kill" || e.cause == "restart") return false;
  return !((e.cause == "stop" || e.cause == "kill_all") && e.exit_code >= 128);
}

int SwarmRunner::failed_peers() const {
  int failed_exits = 0;
  for (const auto& e : exits_) failed_exits += failed(e);
  return failed_exits;
}

void SwarmRunner::read_log(PeerState& p) {
  std::ifstream in(p.log_path, std::ios::binary);
  if (!in) return;
  std::error_code ec;
  if (static_cast<std::int64_t>(fs::file_size(p.log_path, ec)) < p.log_offset && !ec) {
    p.log_offset = 0;  // started afresh
    p.pending.clear();
  }
  in.seekg(p.log_offset);
  std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  p.log_offset += static_cast<std::int64_t>(chunk.size());
  p.pending += chunk;
  std::size_t start = 0, nl;
  while ((nl = p.pending.find('\n', start)) != std::string::npos) {
    const auto line = nlohmann::json::parse(p.pending.substr(start, nl - start), nullptr, false);
    start = nl + 1;
    if (line.is_discarded() || !line.is_object()) continue;
    if (plan_.observer) plan_.observer->line(p, line, elapsed_s());
    auto num = [&](const char* k, double fallback) {
      return line.contains(k) && line[k].is_number() ? line[k].get<double>() : fallback;
    };
    if (line.contains("event") && line["event"].is_string()) {
      const std::string event = line["event"].get<std::string>();
      if (event == "view") p.view = static_cast<std::size_t>(num("view", static_cast<double>(p.view)));
      if (event == "done") {
        p.done = true;
        p.final_acc = num("final_test_acc", NAN);
        p.wall_s = num("wall_s", 0);
        p.step = static_cast<std::int64_t>(num("steps", static_cast<double>(p.step)));
        p.bytes_sent = static_cast<std::uint64_t>(num("bytes_sent", static_cast<double>(p.bytes_sent)));
        p.idle_s = num("idle_s", p.idle_s);
      }
      continue;
    }
    p.step = static_cast<std::int64_t>(num("step", static_cast<double>(p.step)));
    p.loss = num("loss", p.loss);
    p.test_acc = num("test_acc", p.test_acc);
    p.view = static_cast<std::size_t>(num("view", static_cast<double>(p.view)));
    p.bytes_sent = static_cast<std::uint64_t>(num("bytes_sent", static_cast<double>(p.bytes_sent)));
    p.idle_s = num("idle_s", p.idle_s);
  }
  p.pending.erase(0, start);
}

std::string SwarmRunner::status_of(const PeerState& p) {
  if (!p.started) return "waiting";
  if (p.killed_by_fault && p.exit_code >= 0) return "killed";
  if (p.terminated_by_fault && p.exit_code >= 0) return p.exit_code == 0 ? "left" : fmt::format("exit {}", p.exit_code);
  if (p.exit_code < 0) return p.paused ? "stopped" : "running";
  return p.exit_code == 0 ? "done" : fmt::format("exit {}", p.exit_code);
}

std::vector<std::string> SwarmRunner::table() const {
  std::vector<std::string> lines;
  lines.push_back(fmt::format("{:<5} {:<24} {:>7} {:>8} {:>8} {:>5} {:<10}", "peer", "address", "step",
                              "loss", "acc", "view", "status"));
  for (const auto& p : peers_)
    lines.push_back(fmt::format("{:<5} {:<24} {:>7} {:>8} {:>8} {:>5} {:<10}", p.index, p.address, p.step,
                                fmt_or_dash(p.loss, "{:.4f}"), fmt_or_dash(p.test_acc, "{:.4f}"), p.view,
                                status_of(p)));
  return lines;
}

std::string SwarmRunner::brief() const {
  std::string s;
  for (const auto& p : peers_)
    s += fmt::format(" | {}: step {} acc {} view {} {}", p.index, p.step, fmt_or_dash(p.test_acc, "{:.3f}"),
                     p.view, status_of(p));
  return s;
}

LiveDisplay::LiveDisplay(double plain_interval_s)
    : tty_(Progress::stderr_is_terminal()),
      plain_interval_s_(plain_interval_s),
      last_plain_(Clock::now()) {}

void LiveDisplay::draw(const std::vector<std::string>& lines, const std::string& plain_line) {
  if (tty_) {
    if (drawn_) fmt::print(stderr, "\033[{}A", drawn_);
    for (const auto& l : lines) fmt::print(stderr, "\r\033[K{}\n", l);
    drawn_ = lines.size();
    std::fflush(stderr);
  } else if (std::chrono::duration<double>(Clock::now() - last_plain_).count() >= plain_interval_s_) {
    flush(plain_line);
  }
}

void LiveDisplay::flush(const std::string& plain_line) {
  if (tty_) {
    drawn_ = 0;
    return;
  }
  last_plain_ = Clock::now();
  fmt::print(stderr, "{}\n", plain_line);
  std::fflush(stderr);
}

void LiveDisplay::note(const std::string& message) {
  drawn_ = 0;
  fmt::print(stderr, "{}\n", message);
  std::fflush(stderr);
}

}  // namespace chorus::tools
