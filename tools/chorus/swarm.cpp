// `chorus swarm`: a whole swarm on this machine in one command — N `chorus peer` processes on
// loopback with ports, a swarm key and a seed list chosen for the user, one progress display,
// every peer's JSON log in one run directory, and a summary table at the end. Every option
// it does not know itself is passed to each peer (e.g. --strategy, --model, --epochs).
#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "chorus/error.h"
#include "chorus/progress.h"
#include "chorus/swarm_key.h"
#include "command.h"

namespace chorus::tools {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::atomic<int> g_interrupts{0};
extern "C" void on_swarm_signal(int) { g_interrupts.fetch_add(1); }

struct SwarmOptions {
  int peers = 4;
  std::string out;
  std::string membership = "loopback";
  bool no_key = false;
  double stagger_s = 0.3;
  std::vector<std::string> peer_args;  // passed through to every peer
};

struct PeerProcess {
  int index = 0;
  pid_t pid = -1;
  std::string address;
  std::string log_path;
  std::string out_path;
  std::streamoff log_offset = 0;
  std::string pending;  // a partial line read so far
  int exit_code = -1;   // -1: running
  // Latest figures from the log.
  std::int64_t step = 0;
  double loss = NAN, test_acc = NAN, final_acc = NAN, wall_s = 0;
  std::size_t view = 0;
  std::uint64_t bytes_sent = 0;
  double idle_s = 0;
  std::string last_event;
};

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

std::string default_run_dir() {
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  return fmt::format("runs/{}-{}", stamp, getpid());
}

pid_t spawn(const std::vector<std::string>& args, const std::string& out_path) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw UserError("cannot start a peer process (fork failed)");
  if (pid == 0) {
    const int fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      ::close(fd);
    }
    const int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, STDIN_FILENO);
    setpgid(0, 0);  // Ctrl-C reaches the swarm, which stops the peers in order
    execv("/proc/self/exe", argv.data());
    _exit(127);
  }
  return pid;
}

void read_log(PeerProcess& p) {
  std::ifstream in(p.log_path, std::ios::binary);
  if (!in) return;
  in.seekg(p.log_offset);
  std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  p.log_offset += static_cast<std::streamoff>(chunk.size());
  p.pending += chunk;
  std::size_t start = 0, nl;
  while ((nl = p.pending.find('\n', start)) != std::string::npos) {
    const auto line = nlohmann::json::parse(p.pending.substr(start, nl - start), nullptr, false);
    start = nl + 1;
    if (line.is_discarded() || !line.is_object()) continue;
    auto num = [&](const char* k, double fallback) {
      return line.contains(k) && line[k].is_number() ? line[k].get<double>() : fallback;
    };
    if (line.contains("event")) {
      p.last_event = line["event"].get<std::string>();
      if (p.last_event == "view") p.view = static_cast<std::size_t>(num("view", p.view));
      if (p.last_event == "done") {
        p.final_acc = num("final_test_acc", NAN);
        p.wall_s = num("wall_s", 0);
        p.step = static_cast<std::int64_t>(num("steps", p.step));
      }
      continue;
    }
    p.step = static_cast<std::int64_t>(num("step", p.step));
    p.loss = num("loss", p.loss);
    p.test_acc = num("test_acc", p.test_acc);
    p.view = static_cast<std::size_t>(num("view", p.view));
    p.bytes_sent = static_cast<std::uint64_t>(num("bytes_sent", p.bytes_sent));
    p.idle_s = num("idle_s", p.idle_s);
  }
  p.pending.erase(0, start);
}

std::string fmt_or_dash(double v, const char* spec) {
  return std::isfinite(v) ? fmt::format(fmt::runtime(spec), v) : "-";
}

std::string status_of(const PeerProcess& p) {
  if (p.exit_code < 0) return "running";
  return p.exit_code == 0 ? "done" : fmt::format("exit {}", p.exit_code);
}

std::vector<std::string> table(const std::vector<PeerProcess>& peers) {
  std::vector<std::string> lines;
  lines.push_back(fmt::format("{:<5} {:<22} {:>7} {:>8} {:>8} {:>5} {:<10}", "peer", "address",
                              "step", "loss", "acc", "view", "status"));
  for (const auto& p : peers)
    lines.push_back(fmt::format("{:<5} {:<22} {:>7} {:>8} {:>8} {:>5} {:<10}", p.index, p.address,
                                p.step, fmt_or_dash(p.loss, "{:.4f}"),
                                fmt_or_dash(p.test_acc, "{:.4f}"), p.view, status_of(p)));
  return lines;
}

int run_swarm(const SwarmOptions& o) {
  if (o.peers < 1 || o.peers > 64) throw UserError("--peers must be between 1 and 64");
  for (const auto& a : o.peer_args)
    for (const char* own : {"--listen", "--seeds", "--key", "--checkpoint", "--log"})
      if (a == own)
        throw UserError(fmt::format("{} is chosen by chorus swarm for each peer; leave it out", own));
  const std::string dir = o.out.empty() ? default_run_dir() : o.out;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw UserError(dir + ": cannot create the run directory: " + ec.message());

  std::string key_path;
  if (!o.no_key) {
    key_path = dir + "/swarm.key";
    if (!fs::exists(key_path)) SwarmKey::generate().save(key_path);
  }

  std::vector<PeerProcess> peers(static_cast<std::size_t>(o.peers));
  for (int i = 0; i < o.peers; ++i) {
    auto& p = peers[static_cast<std::size_t>(i)];
    p.index = i;
    p.address = fmt::format("tcp://127.0.0.1:{}", free_tcp_port());
    p.log_path = fmt::format("{}/peer{}.jsonl", dir, i);
    p.out_path = fmt::format("{}/peer{}.out", dir, i);
  }

  struct sigaction sa {};
  sa.sa_handler = on_swarm_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  const auto start = Clock::now();
  for (auto& p : peers) {
    std::vector<std::string> args = {"chorus", "peer", "--listen", p.address, "--log", p.log_path,
                                     "--checkpoint", fmt::format("{}/peer{}", dir, p.index),
                                     "--membership", o.membership,
                                     "--min-peers", std::to_string(o.peers)};
    if (p.index > 0) args.insert(args.end(), {"--seeds", peers[0].address});
    if (!key_path.empty()) args.insert(args.end(), {"--key", key_path});
    args.insert(args.end(), o.peer_args.begin(), o.peer_args.end());
    p.pid = spawn(args, p.out_path);
    if (p.index == 0) std::this_thread::sleep_for(std::chrono::duration<double>(o.stagger_s));
  }
  fmt::print(stderr, "swarm of {} peers, run directory {}\n", o.peers, dir);

  const bool tty = Progress::stderr_is_terminal();
  std::size_t drawn = 0;
  auto last_plain = Clock::now();
  bool stopping = false;
  auto stop_deadline = Clock::time_point::max();
  for (;;) {
    int running = 0;
    for (auto& p : peers) {
      if (p.exit_code < 0) {
        int status = 0;
        if (waitpid(p.pid, &status, WNOHANG) == p.pid)
          p.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      read_log(p);
      running += p.exit_code < 0;
    }
    if (g_interrupts.load() > 0 && !stopping) {
      stopping = true;
      fmt::print(stderr, "\nstopping the swarm (peers leave gracefully; Ctrl-C again to kill)\n");
      drawn = 0;
      for (auto& p : peers)
        if (p.exit_code < 0) kill(p.pid, SIGTERM);
      stop_deadline = Clock::now() + std::chrono::seconds(15);
    }
    if (stopping && (g_interrupts.load() > 1 || Clock::now() > stop_deadline))
      for (auto& p : peers)
        if (p.exit_code < 0) kill(p.pid, SIGKILL);

    const auto lines = table(peers);
    if (tty) {
      if (drawn) fmt::print(stderr, "\033[{}A", drawn);
      for (const auto& l : lines) fmt::print(stderr, "\r\033[K{}\n", l);
      drawn = lines.size();
    } else if (running == 0 || Clock::now() - last_plain > std::chrono::seconds(5)) {
      last_plain = Clock::now();
      std::string brief;
      for (const auto& p : peers)
        brief += fmt::format(" | {}: step {} acc {} view {} {}", p.index, p.step,
                             fmt_or_dash(p.test_acc, "{:.3f}"), p.view, status_of(p));
      fmt::print(stderr, "swarm {:.0f}s{}\n",
                 std::chrono::duration<double>(Clock::now() - start).count(), brief);
    }
    if (running == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }

  // Summary.
  nlohmann::json summary = nlohmann::json::array();
  double acc_sum = 0;
  int acc_n = 0, failed = 0;
  fmt::print("\n{:<5} {:>8} {:>10} {:>9} {:>12} {:>8} {:<8}\n", "peer", "steps", "final acc",
             "wall s", "MB sent", "idle s", "status");
  for (const auto& p : peers) {
    fmt::print("{:<5} {:>8} {:>10} {:>9.1f} {:>12.1f} {:>8.2f} {:<8}\n", p.index, p.step,
               fmt_or_dash(p.final_acc, "{:.4f}"), p.wall_s, p.bytes_sent / 1e6, p.idle_s,
               status_of(p));
    if (std::isfinite(p.final_acc)) acc_sum += p.final_acc, ++acc_n;
    failed += p.exit_code != 0;
    summary.push_back({{"peer", p.index}, {"address", p.address}, {"steps", p.step},
                       {"final_test_acc", std::isfinite(p.final_acc) ? nlohmann::json(p.final_acc) : nlohmann::json()},
                       {"exit_code", p.exit_code}, {"log", p.log_path}});
  }
  if (acc_n) fmt::print("mean final test accuracy {:.4f} over {} peers; logs in {}\n", acc_sum / acc_n, acc_n, dir);
  std::ofstream(dir + "/summary.json") << summary.dump(2) << "\n";
  if (failed && !stopping) {
    fmt::print(stderr, "chorus: error: {} peer(s) failed; see {}/peer*.out\n", failed, dir);
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
       app.add_option("--peers", o->peers, "Number of peer processes")->capture_default_str();
       app.add_option("--out", o->out, "Run directory (default: a new one under runs/)");
       app.add_option("--membership", o->membership, "Failure-detection timings of the peers")
           ->capture_default_str();
       app.add_flag("--no-key", o->no_key, "Run without a swarm key (unauthenticated, loopback)");
       app.add_option("--stagger", o->stagger_s, "Seconds the first peer gets before the others start")
           ->capture_default_str();
       return [o, &app] {
         o->peer_args = app.remaining();
         return run_swarm(*o);
       };
     }});

}  // namespace
}  // namespace chorus::tools
