// chorus compare as users run it (shortened): every output file exists, every number in
// summary.csv is finite and in range, faults are applied, bad options (an unknown strategy
// among them) are refused before anything runs; the link emulation (the relay's delay and loss, its byte-exact
// forwarding); and, as root, that an emulated network's namespaces exist during a run and
// are all gone after it.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "tests/child_process.h"
#include "tests/json_lines.h"
#include "tests/test_util.h"
#include "tools/chorus/relay_delay_line.h"

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// One CSV record (RFC 4180 quoting).
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') fields.back() += '"', ++i;
      else if (c == '"') quoted = false;
      else fields.back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

using Row = std::map<std::string, std::string>;

std::vector<Row> read_csv(const std::string& path, std::vector<std::string>* header_out = nullptr) {
  std::istringstream in(read_text(path));
  std::string line;
  std::vector<std::string> header;
  std::vector<Row> rows;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto fields = csv_fields(line);
    if (header.empty()) {
      header = fields;
      continue;
    }
    REQUIRE(fields.size() == header.size());
    Row row;
    for (std::size_t i = 0; i < header.size(); ++i) row[header[i]] = fields[i];
    rows.push_back(row);
  }
  if (header_out) *header_out = header;
  return rows;
}

double as_number(const std::string& s) {
  std::size_t used = 0;
  const double v = std::stod(s, &used);
  REQUIRE(used == s.size());
  return v;
}

// Every numeric column of a row: empty (no value) or a finite number in its range.
void check_ranges(const Row& row) {
  struct Range {
    const char* column;
    double lo, hi;
  };
  const Range ranges[] = {
      {"runs", 1, 1e6},           {"runs_ok", 0, 1e6},          {"peers_finished", 0, 1e6},
      {"final_acc_mean", 0, 1},   {"final_acc_std", 0, 1},      {"final_acc_min", 0, 1},
      {"final_acc_max", 0, 1},    {"time_to_target_s", 0, 1e5}, {"target_reached_runs", 0, 1e6},
      {"steps_per_s", 0, 1e7},    {"bytes_per_peer_step", 0, 1e12}, {"idle_fraction", 0, 1},
      {"param_divergence_rel", 0, 1e6}, {"param_divergence_abs", 0, 1e9}, {"wall_s", 0, 1e5},
      {"start_s", 0, 1e5}};
  for (const auto& r : ranges) {
    INFO(row.at("strategy"), " ", r.column, " = '", row.at(r.column), "'");
    const std::string& v = row.at(r.column);
    if (v.empty()) continue;
    const double x = as_number(v);
    CHECK(std::isfinite(x));
    CHECK(x >= r.lo);
    CHECK(x <= r.hi);
  }
  if (!row.at("final_acc_min").empty()) {
    CHECK(as_number(row.at("final_acc_min")) <= as_number(row.at("final_acc_mean")) + 1e-9);
    CHECK(as_number(row.at("final_acc_mean")) <= as_number(row.at("final_acc_max")) + 1e-9);
  }
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// A TCP echo server on 127.0.0.1 (one connection at a time) on its own thread.
class EchoServer {
 public:
  EchoServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd_, 4) == 0);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      while (!stop_) {
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        char buf[65536];
        ssize_t n;
        while ((n = ::recv(c, buf, sizeof buf, 0)) > 0) {
          ssize_t off = 0;
          while (off < n) {
            const ssize_t w = ::send(c, buf + off, static_cast<std::size_t>(n - off), MSG_NOSIGNAL);
            if (w <= 0) break;
            off += w;
          }
        }
        ::close(c);
      }
    });
  }
  ~EchoServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  int port() const { return port_; }

 private:
  int fd_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int free_port() { return chorus_test::free_loopback_port(); }

// A `chorus relay` on a free loopback port in front of 127.0.0.1:`upstream_port`, with `options`
// (delay, loss), its output in `output`; stopped by SIGKILL if the test leaves it running.
struct Relay {
  int port = free_port();
  chorus_test::ChildProcess process;

  Relay(int upstream_port, const std::vector<std::string>& options, const std::string& output)
      : process(chorus_test::chorus_bin(), relay_args(upstream_port, options), {.output_file = output}) {}

  // A connection to the relay, once it accepts one (bounded: 5 s); -1 if it never did.
  int connect() const {
    int fd = -1;
    chorus_test::eventually(5s, [&] { return (fd = connect_to(port)) >= 0; });
    return fd;
  }

 private:
  std::vector<std::string> relay_args(int upstream_port, const std::vector<std::string>& options) const {
    std::vector<std::string> args{"relay", "--listen", "127.0.0.1:" + std::to_string(port), "--upstream",
                                  "127.0.0.1:" + std::to_string(upstream_port)};
    args.insert(args.end(), options.begin(), options.end());
    return args;
  }
};

// Sends `payload` through the connection and reads the echo; returns the seconds it took.
double echo_round_trip(int fd, const std::string& payload, std::string& echoed) {
  const auto t0 = std::chrono::steady_clock::now();
  std::thread writer([&] {
    std::size_t off = 0;
    while (off < payload.size()) {
      const ssize_t w = ::send(fd, payload.data() + off, payload.size() - off, MSG_NOSIGNAL);
      if (w <= 0) return;
      off += static_cast<std::size_t>(w);
    }
  });
  echoed.clear();
  char buf[65536];
  while (echoed.size() < payload.size()) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    echoed.append(buf, static_cast<std::size_t>(n));
  }
  writer.join();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<std::string> chorus_namespaces() {
  std::vector<std::string> names;
  std::istringstream in(chorus_test::run_command("ip netns list").output);
  std::string line;
  while (std::getline(in, line))
    if (starts_with(line, "chorus-")) names.push_back(line.substr(0, line.find(' ')));
  return names;
}

}  // namespace

TEST_CASE("delay line: holds each chunk for delay ± jitter, keeps order, stalls lost segments") {
  chorus::tools::LinkImpairment link;
  link.delay_s = 0.040;
  link.jitter_s = 0.010;
  chorus::tools::DelayLine line(link, 7);
  double previous = 0;
  for (int i = 0; i < 2000; ++i) {
    const double now = i * 0.001;
    const double release = line.release_time(now, 1000);
    CHECK(release >= previous);               // in order, as TCP delivers
    CHECK(release >= now + 0.030 - 1e-12);    // never earlier than delay − jitter
    previous = release;
  }
  // Sparse chunks (no queueing behind earlier ones) stay within delay + jitter.
  chorus::tools::DelayLine sparse(link, 8);
  for (int i = 0; i < 200; ++i) {
    const double now = i * 1.0;
    const double hold = sparse.release_time(now, 100) - now;
    CHECK(hold >= 0.030 - 1e-12);
    CHECK(hold <= 0.050 + 1e-12);
  }
  CHECK(line.stalls() == 0);

  chorus::tools::LinkImpairment lossy;
  lossy.loss = 0.01;
  lossy.rto_s = 0.2;
  // Chunks of `bytes` sent 10 s apart (each stall visible on its own): how many are held past 0.1 s.
  const auto count_stalled = [](chorus::tools::DelayLine& line, int chunks, std::size_t bytes) {
    int stalled = 0;
    for (int i = 0; i < chunks; ++i) {
      const double now = i * 10.0;
      if (line.release_time(now, bytes) - now > 0.1) ++stalled;
    }
    return stalled;
  };
  chorus::tools::DelayLine l2(lossy, 9);
  const int stalled = count_stalled(l2, 4000, 1448);
  CHECK(static_cast<std::uint64_t>(stalled) == l2.stalls());
  // p = 0.01 per one-segment chunk: 40 expected of 4000; a binomial stays well inside 15..80.
  CHECK(stalled > 15);
  CHECK(stalled < 80);
  // A chunk of 100 segments is stalled with probability 1 − 0.99^100 ≈ 0.63.
  chorus::tools::DelayLine l3(lossy, 10);
  const int big_stalls = count_stalled(l3, 1000, 144800);
  CHECK(big_stalls > 530);
  CHECK(big_stalls < 730);
}

TEST_CASE("chorus relay forwards bytes exactly and adds its delay in each direction") {
  EchoServer echo;
  chorus_test::TempDir dir("chorus-relay");
  Relay relay(echo.port(), {"--delay-ms", "60"}, dir / "relay.out");
  int fd = relay.connect();
  REQUIRE(fd >= 0);
  std::mt19937 rng(3);
  std::string payload(1 << 20, '\0');
  for (auto& c : payload) c = static_cast<char>(rng());
  std::string echoed;
  const double seconds = echo_round_trip(fd, payload, echoed);
  ::close(fd);
  CHECK(echoed == payload);
  MESSAGE("1 MiB echoed through the relay in ", seconds, " s");
  CHECK(seconds >= 0.120);  // 60 ms there and 60 ms back, at the least

  // Loss 1: every chunk is stalled one retransmission timeout on the way there and back.
  Relay lossy(echo.port(), {"--loss", "1", "--rto-ms", "150"}, dir / "lossy.out");
  fd = lossy.connect();
  REQUIRE(fd >= 0);
  const double stalled = echo_round_trip(fd, "ping", echoed);
  ::close(fd);
  CHECK(echoed == "ping");
  CHECK(stalled >= 0.300);
  relay.process.signal(SIGTERM);
  lossy.process.signal(SIGTERM);
  CHECK(relay.process.wait(5s) == 0);
  CHECK(lossy.process.wait(5s) == 0);
  CHECK(read_text(dir / "lossy.out").find("loss stalls") != std::string::npos);
}

TEST_CASE("a shortened comparison writes the summary and the plots; numbers are finite and in range") {
  chorus_test::TempDir dir("chorus-compare");
  const std::string out = dir / "out";
  // Slowed peers (×40: 200 steps take seconds) so the faults land mid-run: peer 2 is killed
  // at 2.5 s, one more joins at 3 s.
  const std::string cmd = chorus_test::chorus_bin() +
                          " compare --peers 3 --strategies local --model mlp --epochs 1 "
                          "--max-steps 200 --target-acc 0.5 --stall-timeout 60 --run-timeout 120 --data " +
                          chorus_test::data_dir() + " --fault slow:0:40 --fault slow:1:40 --fault slow:2:40 " +
                          "--fault kill:2@2.5 --fault join@3 --out " + out;
  const auto result = chorus_test::run_command(cmd);
  INFO(result.output);
  REQUIRE(result.exit_code == 0);

  for (const char* f : {"summary.md", "summary.csv", "plots/plots.gp", "plots/local.acc.dat", "plots/local.loss.dat"})
    CHECK_MESSAGE(fs::exists(out + "/" + f), f);
  const bool have_gnuplot = chorus_test::run_command("gnuplot --version").exit_code == 0;
  const std::string md = read_text(out + "/summary.md");
  if (have_gnuplot) {
    for (const char* plot : {"acc_vs_time", "acc_vs_bytes", "loss_vs_step"}) {
      const std::string png = read_text(out + "/" + plot + ".png");
      const std::string svg = read_text(out + "/" + plot + ".svg");
      CHECK_MESSAGE(starts_with(png, "\x89PNG\r\n"), plot);
      CHECK_MESSAGE(svg.find("<svg") != std::string::npos, plot);
      CHECK(md.find(std::string(plot) + ".svg") != std::string::npos);
    }
  } else {
    CHECK(md.find("gnuplot was not found") != std::string::npos);
  }

  std::vector<std::string> header;
  const auto rows = read_csv(out + "/summary.csv", &header);
  REQUIRE(rows.size() == 1);
  CHECK(header.front() == "strategy");
  for (const auto& row : rows) check_ranges(row);

  const Row& local = rows[0];
  CHECK(local.at("strategy") == "local");
  CHECK(local.at("status") == "ok");
  // Peers 0 and 1 and the late joiner finish; the killed peer 2 does not count.
  CHECK(local.at("peers_finished") == "3");
  REQUIRE_FALSE(local.at("final_acc_mean").empty());
  CHECK(as_number(local.at("final_acc_mean")) > 0.3);  // far above chance (0.1) after 200 steps
  CHECK(as_number(local.at("bytes_per_peer_step")) == 0);  // local never exchanges
  REQUIRE_FALSE(local.at("param_divergence_rel").empty());
  CHECK(as_number(local.at("param_divergence_rel")) > 0);  // independent peers drift apart
  if (!local.at("time_to_target_s").empty())
    CHECK(as_number(local.at("time_to_target_s")) <= as_number(local.at("wall_s")));
  CHECK(fs::exists(out + "/runs/local/r1/peer3.jsonl"));
  const auto killed = chorus_test::read_json_lines(out + "/runs/local/r1/peer2.jsonl");
  for (const auto& l : killed) CHECK(l.value("event", "") != "done");
  CHECK(md.find("kill:2@2.5") != std::string::npos);

  // --report-only summarizes the same runs again, without training.
  const auto again =
      chorus_test::run_command(chorus_test::chorus_bin() + " compare --report-only --target-acc 0.4 --out " + out);
  INFO(again.output);
  CHECK(again.exit_code == 0);
  REQUIRE(read_csv(out + "/summary.csv").size() == 1);
}

TEST_CASE("--report-only still summarizes a comparison that ran a strategy this chorus did not have") {
  chorus_test::TempDir dir("chorus-compare-old");
  const std::string out = dir / "out";
  fs::create_directories(out + "/runs/no-such-strategy/r1");
  std::ofstream(out + "/compare.json") << R"({"command": "chorus compare --strategies no-such-strategy", "peers": 2,
    "model": "mlp", "epochs": 1, "batch": 64, "lr": "0.05", "seed": 1, "target_acc": 0.5, "repeat": 1,
    "eval_every": 5, "max_steps": 0, "network": "loopback", "mechanism": "loopback", "faults": [],
    "extra_peer_args": [], "strategies": ["no-such-strategy"]})";
  std::ofstream(out + "/runs/no-such-strategy/r1/run.json")
      << R"({"strategy": "no-such-strategy", "repeat": 1, "status": "unavailable", "reason": "peer 0 exit 2: )"
         R"(chorus: error: unknown strategy 'no-such-strategy'", "wall_s": 1.0, "peers": []})";
  const auto r = chorus_test::run_command(chorus_test::chorus_bin() + " compare --report-only --out " + out);
  INFO(r.output);
  CHECK(r.exit_code == 1);  // no strategy ran cleanly
  const auto rows = read_csv(out + "/summary.csv");
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].at("strategy") == "no-such-strategy");
  CHECK(rows[0].at("status") == "unavailable");
  check_ranges(rows[0]);
}

TEST_CASE("an unknown strategy or a bad peer option is refused before anything runs") {
  chorus_test::TempDir dir("chorus-compare-refused");
  const std::string out = dir / "out";
  const std::string compare = chorus_test::chorus_bin() + " compare --peers 3 --epochs 1 --out " + out + " ";
  for (const auto& [args, says] : std::vector<std::pair<std::string, std::string>>{
           {"--strategies local,no-such-strategy", "unknown strategy 'no-such-strategy' (choose one of:"},
           {"--strategies local,kavg/k=0", "--k must be an integer from 1 to"},
           {"--strategies gossip/gossip=sideways", "--gossip must be one of pull, push"},
           {"--strategies hier/k1=3/k2=4", "a multiple of --k1"},
           {"--strategies local --no-such-flag", "--no-such-flag"},
           {"--strategies kavg --overlap=-2", "--overlap must be an integer from -1 to"},
           {"--strategies local --seeds tcp://127.0.0.1:70000", "--seeds is set by chorus compare"},
           {"--strategies local --data " + (dir / "no-data"), "train-images-idx3-ubyte"},
           {"--strategies local --fault join@1 --fault slow:3:0.5", "slowdown factor must be at least 1"}}) {
    const auto r = chorus_test::run_command(compare + args);
    INFO(args, " -> ", r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.rfind("chorus: error: ", 0) == 0);
    CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
    CHECK(r.output.find(says) != std::string::npos);
    CHECK_FALSE(fs::exists(out));  // no output directory, so no swarm was started
  }
}

TEST_CASE("bad flags are one-line user errors (exit 2)") {
  for (const char* args : {"--fault kill:x@3", "--fault explode@3", "--strategies local --net /no/such/profile",
                           "--strategies local,local", "--target-acc 2", "--strategies kavg/epochs=3",
                           "--strategies Bad!Name", "--peers 2 --fault kill:5@1", "--peers 0", "--repeat 0",
                           "--stall-timeout -1", "--emulation magic", "--strategies no-such-strategy"}) {
    const auto r = chorus_test::run_command(chorus_test::chorus_bin() + " compare --out /nonexistent-dir-xyz " + args);
    INFO(args, ": ", r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("chorus: error:") != std::string::npos);
  }
}

TEST_CASE("--net wan: every peer in its own namespace during the run, none left after it") {
  if (geteuid() != 0) chorus_test::skip("network namespaces need root");
  if (chorus_test::run_command("ip netns list").exit_code != 0) chorus_test::skip("ip netns is unavailable");
  chorus_test::TempDir dir("chorus-compare-net");
  const auto before = chorus_namespaces();
  chorus_test::ChildProcess compare(chorus_test::chorus_bin(),
                                    {"compare", "--net", "wan", "--peers", "2", "--strategies", "local/log-every=5",
                                     "--epochs", "1", "--max-steps", "40", "--data", chorus_test::data_dir(),
                                     "--stall-timeout", "60", "--out", dir / "out"},
                                    {.output_file = dir / "compare.out"});
  std::size_t most = 0;
  chorus_test::eventually(60s, [&] {
    most = std::max(most, chorus_namespaces().size() - std::min(before.size(), chorus_namespaces().size()));
    return !compare.running();
  });
  const int code = compare.wait(90s);
  INFO(read_text(dir / "compare.out"));
  CHECK(code == 0);
  CHECK(most >= 3);  // the switch and one namespace per peer
  std::vector<std::string> after = chorus_namespaces();
  for (const auto& n : after)
    CHECK_MESSAGE(std::find(before.begin(), before.end(), n) != before.end(), "left behind: ", n);
  const std::string md = read_text(dir / "out/summary.md");
  CHECK(md.find("198.18") == std::string::npos);  // addresses stay in the logs, not the summary
  CHECK((md.find("netem") != std::string::npos || md.find("relay") != std::string::npos));
  const auto rows = read_csv(dir / "out/summary.csv");
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].at("strategy") == "local/log-every=5");  // a strategy with its own peer options
  CHECK(rows[0].at("status") == "ok");
  check_ranges(rows[0]);
  const auto log = chorus_test::read_json_lines(dir / "out/runs/local_log-every_5/r1/peer0.jsonl");
  std::size_t step_lines = 0;
  for (const auto& l : log) step_lines += !l.contains("event");
  CHECK(step_lines >= 40 / 5);  // --log-every 5 reached the peers
}
