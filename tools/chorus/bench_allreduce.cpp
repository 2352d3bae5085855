// chorus bench allreduce: the ring all-reduce between N local processes over ZeroMQ on TCP
// loopback, for each buffer size, with security off (no key) and on (a swarm key, encrypted),
// and beside it, in the same run, the same all-reduce through Gloo's ring algorithms (TCP
// transport) and Open MPI's MPI_Allreduce (TCP on loopback) where those benchmark-only programs
// were built (tools/bench; Debian packages libgloo-dev and libopenmpi-dev).
//
// Every implementation sums float buffers in place; each first checks one all-reduce of known
// values for the exact sum (a failed check is reported, never hidden). Time per repetition is
// the slowest process's time for that repetition (repetitions run back to back); the median
// over the repetitions is reported with
//   algbw = bytes / median time      busbw = algbw * 2(N-1)/N      (GB/s = 1e9 bytes/s)
// busbw is what each link carries, comparable across N. chorus's two security settings take
// turns repetition by repetition, and the implementations take turns size by size (in reverse
// order every other --rounds round), so that load from elsewhere falls on all of them alike.
// The chorus processes keep their receive buffers on the heap as every ZeroMQ transport does
// (foundations/transport/receive_heap.h).
#include <fmt/core.h>
#include <fmt/format.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <sstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "foundations/base/error.h"
#include "foundations/crypto/swarm_key.h"
#include "foundations/transport/zmq_transport.h"
#include "peers/ring/ring_allreduce.h"
#include "tools/chorus/child_process.h"
#include "tools/chorus/command.h"
#include "tools/chorus/list_option.h"
#include "tools/chorus/option_checks.h"
#include "tools/chorus/statistics.h"

namespace {

using Clock = std::chrono::steady_clock;
using chorus::UserError;
using chorus::tools::ChildProcess;
using chorus::tools::median;

struct Options {
  std::vector<int> peers{4};
  std::vector<std::uint64_t> sizes{1u << 20, 4u << 20, 16u << 20, 64u << 20};
  std::string security = "both";  // off | on | both
  std::vector<std::string> baselines{"auto"};  // auto, none, or some of gloo and mpi
  int reps = 0;                    // 0: by size
  int rounds = 1;                  // how many times the whole sequence of implementations runs
  int chunk_kib = 0;               // 0: automatic
  bool ipc = false;                // chorus over ipc:// instead of TCP (the baselines stay on TCP)
  bool json = false;
  std::string gloo_bin, mpi_bin, mpirun = "mpirun";
};

struct Measurement {
  std::string impl;
  int peers = 0;
  std::uint64_t bytes = 0;
  bool secure = false;
  bool ok = true;
  std::vector<double> times;  // slowest process per repetition, seconds
};

int reps_for(const Options& o, std::uint64_t bytes) {
  if (o.reps > 0) return o.reps;
  return bytes <= (1u << 20) ? 40 : bytes <= (4u << 20) ? 20 : bytes <= (16u << 20) ? 10 : 5;
}

std::uint64_t parse_size(const std::string& text) {
  std::size_t used = 0;
  double number = 0;
  try {
    number = std::stod(text, &used);
  } catch (...) {
    used = 0;
  }
  std::string unit = text.substr(used);
  std::transform(unit.begin(), unit.end(), unit.begin(), [](unsigned char c) { return std::tolower(c); });
  static const std::map<std::string, double> units = {
      {"", 1}, {"b", 1}, {"k", 1024}, {"kib", 1024}, {"kb", 1e3}, {"m", 1 << 20}, {"mib", 1 << 20},
      {"mb", 1e6}, {"g", 1 << 30}, {"gib", 1 << 30}, {"gb", 1e9}};
  const auto it = units.find(unit);
  if (used == 0 || it == units.end() || !(number > 0))
    throw UserError(fmt::format("'{}' is not a size (e.g. 1MiB, 512KiB, 4194304)", text));
  const double bytes = number * it->second;
  if (bytes < 4 || bytes > double(1ull << 31))
    throw UserError(fmt::format("{} must lie between 4 bytes and 2 GiB", text));
  return static_cast<std::uint64_t>(bytes) / 4 * 4;
}

std::string size_name(std::uint64_t bytes) {
  if (bytes % (1u << 20) == 0) return fmt::format("{} MiB", bytes >> 20);
  if (bytes % 1024 == 0) return fmt::format("{} KiB", bytes >> 10);
  return fmt::format("{} B", bytes);
}

// --- pipes ------------------------------------------------------------------------------------

void write_all(int fd, const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n <= 0) _exit(3);
    done += static_cast<std::size_t>(n);
  }
}

// Reads everything from `fds` until each is closed or the deadline passes; returns per fd.
std::vector<std::string> read_until_closed(const std::vector<int>& fds, Clock::time_point deadline) {
  std::vector<std::string> out(fds.size());
  std::vector<bool> open(fds.size(), true);
  for (;;) {
    std::vector<pollfd> p;
    std::vector<std::size_t> which;
    for (std::size_t i = 0; i < fds.size(); ++i)
      if (open[i]) {
        p.push_back({fds[i], POLLIN, 0});
        which.push_back(i);
      }
    if (p.empty()) return out;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) throw UserError("bench allreduce: a benchmark process did not finish in time");
    if (::poll(p.data(), p.size(), static_cast<int>(std::min<long long>(left, 1000))) < 0) continue;
    for (std::size_t k = 0; k < p.size(); ++k) {
      if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[65536];
      const ssize_t n = ::read(p[k].fd, buf, sizeof buf);
      if (n <= 0) open[which[k]] = false;
      else out[which[k]].append(buf, static_cast<std::size_t>(n));
    }
  }
}

// Reads one line from fd (blocking, bounded by the deadline).
std::string read_line(int fd, Clock::time_point deadline) {
  std::string line;
  char c;
  while (true) {
    pollfd p{fd, POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0)
      throw UserError("bench allreduce: a benchmark process did not start");
    if (::read(fd, &c, 1) != 1) throw UserError("bench allreduce: a benchmark process ended early");
    if (c == '\n') return line;
    line += c;
  }
}

// Waits for every child to exit, or (kill_first) kills and reaps them; empties the list.
void reap(std::vector<ChildProcess>& children, bool kill_first) {
  if (!kill_first)
    for (auto& child : children) child.wait();
  children.clear();  // destroying a child still running kills and reaps it
}

// --- chorus: one forked process per member --------------------------------------------------

struct Plan {
  std::vector<std::uint64_t> sizes;
  std::vector<int> reps;
  std::vector<bool> secure;  // the security settings, taking turns
  std::size_t chunk_bytes = 0;
  bool ipc = false;          // chorus over ipc:// (Unix sockets) instead of TCP loopback
};

constexpr int kWarmup = 2;

// Runs in a forked process: one member of the ring; returns its exit code.
int chorus_member(int index, int n, const Plan& plan, const chorus::SwarmKey& key, int to_parent,
                  int from_parent) {
  std::vector<std::unique_ptr<chorus::Transport>> transports;
  std::vector<std::unique_ptr<chorus::RingAllreduce>> rings;
  std::string hello = std::to_string(index);
  for (bool secure : plan.secure) {
    chorus::TransportConfig c;
    c.address = plan.ipc ? fmt::format("ipc:///tmp/chorus-bench-{}-{}", ::getpid(), secure ? "key" : "nokey")
                         : "tcp://127.0.0.1:*";
    if (secure) c.key = key;
    c.log = [](const std::string&) {};
    transports.push_back(chorus::make_zmq_transport(c));
    chorus::RingOptions ro;
    ro.chunk_bytes = plan.chunk_bytes;
    rings.push_back(std::make_unique<chorus::RingAllreduce>(*transports.back(), ro));
    hello += fmt::format(" {} {}", transports.back()->id(), transports.back()->address());
  }
  write_all(to_parent, hello + "\n");
  // The parent answers with every member's line, in index order.
  std::vector<chorus::RingView> views(plan.secure.size());
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  for (int i = 0; i < n; ++i) {
    std::stringstream line(read_line(from_parent, deadline));
    int idx = 0;
    line >> idx;
    for (auto& v : views) {
      chorus::RingMember m;
      line >> m.id >> m.address;
      v.members.push_back(m);
      v.number = 1;
    }
  }
  std::uint64_t round = 0;
  const auto run = [&](std::size_t mode, std::span<float> data) {
    chorus::RingAttempt a;
    a.scope = 1;
    a.round = ++round;
    a.view = views[mode];
    a.op = chorus::ReduceOp::sum;
    a.timeout = std::chrono::seconds(120);
    const auto t0 = Clock::now();
    const chorus::RingOutcome out = rings[mode]->run(data, a);
    if (!out.ok()) throw UserError(fmt::format("all-reduce failed: {} {}", chorus::ring_status_name(out.status), out.detail));
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  std::string report;
  for (std::size_t s = 0; s < plan.sizes.size(); ++s) {
    std::vector<float> data(plan.sizes[s] / sizeof(float));
    std::vector<bool> ok(plan.secure.size());
    for (std::size_t m = 0; m < plan.secure.size(); ++m) {
      for (std::size_t k = 0; k < data.size(); ++k) data[k] = static_cast<float>(index + 1 + static_cast<int>(k % 5));
      run(m, data);
      ok[m] = true;
      for (std::size_t k = 0; k < data.size() && ok[m]; ++k)
        ok[m] = data[k] == static_cast<float>(n * (n + 1) / 2 + n * static_cast<int>(k % 5));
    }
    std::fill(data.begin(), data.end(), 0.0f);
    std::vector<std::vector<double>> times(plan.secure.size());
    for (int r = 0; r < kWarmup + plan.reps[s]; ++r)
      for (std::size_t m = 0; m < plan.secure.size(); ++m) {
        const double t = run(m, data);
        if (r >= kWarmup) times[m].push_back(t);
      }
    for (std::size_t m = 0; m < plan.secure.size(); ++m) {
      report += fmt::format("{} {} {}", m, plan.sizes[s], ok[m] ? 1 : 0);
      for (double t : times[m]) report += fmt::format(" {:.9g}", t);
      report += "\n";
    }
  }
  write_all(to_parent, report);
  return 0;
}

std::vector<Measurement> run_chorus(const Options& o, int n, const Plan& plan, const chorus::SwarmKey& key) {
  std::vector<ChildProcess> members;  // killed and reaped on every way out of this function
  std::vector<int> up, down;           // child -> parent, parent -> child
  const auto close_pipes = [&] {
    for (int fd : up) ::close(fd);
    for (int fd : down) ::close(fd);
  };
  std::vector<Measurement> out;
  try {
    for (int i = 0; i < n; ++i) {
      int a[2], b[2];
      if (::pipe(a) != 0) throw UserError("bench allreduce: pipe failed");
      up.push_back(a[0]);
      if (::pipe(b) != 0) {
        ::close(a[1]);
        throw UserError("bench allreduce: pipe failed");
      }
      down.push_back(b[1]);
      try {
        members.push_back(ChildProcess::forked(fmt::format("chorus bench member {}", i), [&, i] {
          // Only its own ends: the parent sees a member's report end when that member exits.
          close_pipes();
          return chorus_member(i, n, plan, key, a[1], b[0]);
        }));
      } catch (...) {
        ::close(a[1]);
        ::close(b[0]);
        throw;
      }
      ::close(a[1]);
      ::close(b[0]);
    }
    const auto start_deadline = Clock::now() + std::chrono::seconds(30);
    std::string lines;
    for (int i = 0; i < n; ++i) lines += read_line(up[i], start_deadline) + "\n";
    for (int fd : down) write_all(fd, lines);
    std::uint64_t total_bytes = 0;
    for (std::size_t s = 0; s < plan.sizes.size(); ++s) total_bytes += plan.sizes[s] * (plan.reps[s] + kWarmup + 1);
    // Generous: 20 MB/s would be a hundred times slower than expected.
    const auto deadline = Clock::now() + std::chrono::seconds(60 + total_bytes * plan.secure.size() / 20'000'000);
    const std::vector<std::string> reports = read_until_closed(up, deadline);
    reap(members, false);
    // (mode, bytes) -> per-member times
    std::map<std::pair<std::size_t, std::uint64_t>, Measurement> by_key;
    for (int i = 0; i < n; ++i) {
      std::stringstream in(reports[i]);
      std::string line;
      std::size_t lines = 0;
      while (std::getline(in, line)) {
        std::stringstream l(line);
        std::size_t mode = 0;
        std::uint64_t bytes = 0;
        int ok = 0;
        l >> mode >> bytes >> ok;
        Measurement& m = by_key[{mode, bytes}];
        m.impl = plan.ipc ? "chorus-ipc" : "chorus";
        m.peers = n;
        m.bytes = bytes;
        m.secure = plan.secure.at(mode);
        m.ok = m.ok && ok == 1;
        double t;
        for (std::size_t r = 0; l >> t; ++r) {
          if (m.times.size() <= r) m.times.push_back(0);
          m.times[r] = std::max(m.times[r], t);
        }
        ++lines;
      }
      if (lines != plan.sizes.size() * plan.secure.size())
        throw UserError(fmt::format("bench allreduce: chorus member {} failed (see its message above)", i));
    }
    for (auto& [k, m] : by_key) out.push_back(std::move(m));
  } catch (...) {
    reap(members, true);
    close_pipes();
    throw;
  }
  close_pipes();
  (void)o;
  return out;
}

// --- baselines: separate programs printing JSON lines (tools/bench/bench_args.h) ----------------

std::string self_dir() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : exe.parent_path().string();
}

std::string find_program(const std::string& given, const std::string& name) {
  if (!given.empty()) {
    if (!std::filesystem::exists(given)) throw UserError(fmt::format("{}: no such program", given));
    return given;
  }
  const std::string candidate = self_dir() + "/tools/bench/" + name;
  return std::filesystem::exists(candidate) ? candidate : std::string();
}

// Runs argv (each process of `argvs`), collects their standard output.
std::vector<std::string> run_programs(const std::vector<std::vector<std::string>>& argvs, std::chrono::seconds limit) {
  std::vector<ChildProcess> programs;  // killed and reaped on every way out of this function
  std::vector<int> fds;
  const auto close_pipes = [&] {
    for (int fd : fds) ::close(fd);
  };
  std::vector<std::string> out;
  try {
    for (const auto& argv : argvs) {
      int p[2];
      if (::pipe(p) != 0) throw UserError("bench allreduce: pipe failed");
      fds.push_back(p[0]);
      try {
        programs.push_back(ChildProcess::forked("bench allreduce", [&] {
          ::dup2(p[1], STDOUT_FILENO);
          ::close(p[1]);
          close_pipes();
          std::vector<char*> args;
          for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
          args.push_back(nullptr);
          ::execvp(args[0], args.data());
          std::fprintf(stderr, "bench allreduce: cannot run %s\n", args[0]);
          return 127;
        }));
      } catch (...) {
        ::close(p[1]);
        throw;
      }
      ::close(p[1]);
    }
    out = read_until_closed(fds, Clock::now() + limit);
  } catch (...) {
    reap(programs, true);
    close_pipes();
    throw;
  }
  reap(programs, false);
  close_pipes();
  return out;
}

// Folds the programs' JSON lines into measurements (slowest rank per repetition).
std::vector<Measurement> collect(const std::vector<std::string>& outputs, int n) {
  std::map<std::pair<std::string, std::uint64_t>, Measurement> by_key;
  for (const auto& text : outputs) {
    std::stringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] != '{') continue;
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
      } catch (...) {
        continue;
      }
      Measurement& m = by_key[{j.value("impl", ""), j.value("bytes", std::uint64_t{0})}];
      m.impl = j.value("impl", "");
      m.peers = n;
      m.bytes = j.value("bytes", std::uint64_t{0});
      m.ok = m.ok && j.value("ok", false);
      const auto times = j.value("times_s", std::vector<double>{});
      for (std::size_t r = 0; r < times.size(); ++r) {
        if (m.times.size() <= r) m.times.push_back(0);
        m.times[r] = std::max(m.times[r], times[r]);
      }
    }
  }
  std::vector<Measurement> out;
  for (auto& [k, m] : by_key) out.push_back(std::move(m));
  return out;
}

std::string join_numbers(const std::vector<std::uint64_t>& v) {
  std::string s;
  for (auto x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
  return s;
}

std::vector<Measurement> run_gloo(const std::string& bin, int n, const Plan& plan, const std::string& algorithm) {
  char pattern[] = "/tmp/chorus-bench-gloo-XXXXXX";
  if (!::mkdtemp(pattern)) throw UserError("bench allreduce: cannot create a temporary directory");
  std::vector<std::uint64_t> reps(plan.reps.begin(), plan.reps.end());
  std::vector<std::vector<std::string>> argvs;
  for (int r = 0; r < n; ++r)
    argvs.push_back({bin, "--rank", std::to_string(r), "--size", std::to_string(n), "--store", pattern,
                     "--algorithm", algorithm, "--sizes", join_numbers(plan.sizes), "--reps", join_numbers(reps)});
  std::vector<std::string> outputs;
  try {
    outputs = run_programs(argvs, std::chrono::seconds(900));
  } catch (...) {
    std::filesystem::remove_all(pattern);
    throw;
  }
  std::filesystem::remove_all(pattern);
  return collect(outputs, n);
}

std::vector<Measurement> run_mpi(const Options& o, const std::string& bin, int n, const Plan& plan) {
  std::vector<std::uint64_t> reps(plan.reps.begin(), plan.reps.end());
  ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
  ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
  ::setenv("OMPI_MCA_btl", "self,tcp", 1);  // TCP between ranks, never shared memory
  ::setenv("OMPI_MCA_btl_tcp_if_include", "lo", 1);
  ::setenv("OMPI_MCA_oob_tcp_if_include", "lo", 1);
  ::setenv("OMPI_MCA_pml", "ob1", 1);
  const std::vector<std::string> argv = {o.mpirun, "--oversubscribe", "-np", std::to_string(n), bin,
                                         "--sizes", join_numbers(plan.sizes), "--reps", join_numbers(reps)};
  return collect(run_programs({argv}, std::chrono::seconds(900)), n);
}

// --- report -------------------------------------------------------------------------------------

// The performance targets chorus is held to, checked on this run's figures: chorus with security
// off at least 1.25x the better of Gloo's best ring and MPI from 4 MiB up, no slower than MPI
// at 1 MiB (and below), and encrypted at least 70% of its own figure without.
void report_targets(const std::vector<Measurement>& all) {
  const auto seconds = [&](const std::string& impl_prefix, int peers, std::uint64_t bytes, bool secure) {
    double best = 0;
    for (const auto& m : all)
      if (m.impl.starts_with(impl_prefix) && m.peers == peers && m.bytes == bytes && m.secure == secure && m.ok &&
          !m.times.empty()) {
        const double t = median(m.times);
        if (best == 0 || t < best) best = t;
      }
    return best;  // 0: not measured
  };
  const auto verdict = [](bool met) { return met ? "met" : "NOT met"; };
  std::vector<std::string> lines;
  std::set<std::pair<int, std::uint64_t>> rows;
  for (const auto& m : all)
    if (m.impl == "chorus") rows.insert({m.peers, m.bytes});
  for (const auto& [peers, bytes] : rows) {
    const double off = seconds("chorus", peers, bytes, false), on = seconds("chorus", peers, bytes, true);
    const double gloo = seconds("gloo-", peers, bytes, false), mpi = seconds("mpi", peers, bytes, false);
    std::vector<std::string> parts;
    if (off > 0 && (gloo > 0 || mpi > 0)) {
      if (bytes <= (std::uint64_t{1} << 20)) {
        if (mpi > 0)
          parts.push_back(fmt::format("{:.2f}x MPI's bandwidth (target: at least 1x) {}", mpi / off, verdict(off <= mpi)));
      } else {
        const double other = gloo > 0 && mpi > 0 ? std::min(gloo, mpi) : std::max(gloo, mpi);
        parts.push_back(fmt::format("{:.2f}x the better of Gloo and MPI (target: at least 1.25x) {}", other / off,
                                    verdict(other / off >= 1.25)));
      }
    }
    if (off > 0 && on > 0)
      parts.push_back(
          fmt::format("encrypted {:.0f}% of off (target: at least 70%) {}", 100 * off / on, verdict(off / on >= 0.7)));
    if (!parts.empty())
      lines.push_back(fmt::format("N = {} {:>7}: {}", peers, size_name(bytes), fmt::join(parts, "; ")));
  }
  if (lines.empty()) return;
  fmt::print("\ntargets (bandwidth ratios of this run):\n");
  for (const auto& l : lines) fmt::print("  {}\n", l);
}

void report(const Options& o, const std::vector<Measurement>& all, const std::vector<std::string>& notes) {
  for (const auto& m : all)
    if (!m.ok) std::fprintf(stderr, "bench allreduce: %s at %d peers, %s: WRONG RESULT\n", m.impl.c_str(), m.peers,
                            size_name(m.bytes).c_str());
  if (o.json) {
    for (const auto& m : all) {
      const double t = median(m.times), algbw = m.bytes / t / 1e9;
      nlohmann::json j = {{"peers", m.peers}, {"bytes", m.bytes}, {"secure", m.secure},
                          {"median_ms", t * 1e3}, {"algbw_gbs", algbw},
                          {"busbw_gbs", algbw * 2.0 * (m.peers - 1) / m.peers}, {"impl", m.impl},
                          {"reps", m.times.size()}, {"ok", m.ok}};
      fmt::print("{}\n", j.dump());
    }
    return;
  }
  fmt::print("chorus bench allreduce: N processes on TCP loopback, {} CPU cores; sum of float buffers\n",
             std::thread::hardware_concurrency());
  fmt::print("median over repetitions of the slowest process; GB/s = 1e9 bytes/s; busbw = algbw * 2(N-1)/N\n");
  for (const auto& note : notes) fmt::print("note: {}\n", note);
  int last_peers = -1;
  for (const auto& m : all) {
    if (m.peers != last_peers) {
      fmt::print("\nN = {}\n{:<22} {:>6} {:>8} {:>10} {:>11} {:>11}\n", m.peers, "impl", "secure", "size", "median ms",
                 "algbw GB/s", "busbw GB/s");
      last_peers = m.peers;
    }
    const double t = median(m.times), algbw = m.bytes / t / 1e9;
    fmt::print("{:<22} {:>6} {:>8} {:>10.3f} {:>11.3f} {:>11.3f}{}\n", m.impl, m.secure ? "on" : "off",
               size_name(m.bytes), t * 1e3, algbw, algbw * 2.0 * (m.peers - 1) / m.peers, m.ok ? "" : "  WRONG RESULT");
  }
  report_targets(all);
}

int run(const Options& o) {
  Plan plan;
  plan.sizes = o.sizes;
  for (auto b : o.sizes) plan.reps.push_back(reps_for(o, b));
  if (o.security == "off" || o.security == "both") plan.secure.push_back(false);
  if (o.security == "on" || o.security == "both") plan.secure.push_back(true);
  plan.chunk_bytes = static_cast<std::size_t>(o.chunk_kib) * 1024;
  plan.ipc = o.ipc;

  std::vector<std::string> notes;
  std::string gloo, mpi;
  const auto named = [&](const char* b) {
    return std::find(o.baselines.begin(), o.baselines.end(), b) != o.baselines.end();
  };
  if ((named("auto") || named("none")) && o.baselines.size() > 1)
    throw UserError("--baselines: auto and none stand alone; otherwise name gloo, mpi or both");
  if (named("auto") || named("gloo")) {
    gloo = find_program(o.gloo_bin, "chorus-bench-gloo");
    if (gloo.empty()) notes.push_back("Gloo baseline not built (install libgloo-dev and reconfigure)");
  }
  if (named("auto") || named("mpi")) {
    mpi = find_program(o.mpi_bin, "chorus-bench-mpi");
    if (mpi.empty()) notes.push_back("MPI baseline not built (install libopenmpi-dev and reconfigure)");
  }
  const chorus::SwarmKey key = chorus::SwarmKey::generate();
  std::map<std::tuple<int, std::string, bool, std::uint64_t>, Measurement> pooled;
  const auto add = [&](std::vector<Measurement> ms) {
    for (auto& m : ms) {
      Measurement& p = pooled[{m.peers, m.impl, m.secure, m.bytes}];
      if (p.times.empty()) p = m;
      else {
        p.ok = p.ok && m.ok;
        p.times.insert(p.times.end(), m.times.begin(), m.times.end());
      }
    }
  };
  // Implementations take turns size by size, in reverse order every other round, so that
  // load from elsewhere on the machine falls on all of them alike.
  std::vector<std::function<std::vector<Measurement>(int, const Plan&)>> impls;
  impls.push_back([&](int n, const Plan& p) { return run_chorus(o, n, p, key); });
  if (!gloo.empty())
    for (const char* algorithm : {"ring", "ring_chunked", "allreduce_ring"})
      impls.push_back([&, algorithm](int n, const Plan& p) { return run_gloo(gloo, n, p, algorithm); });
  if (!mpi.empty()) impls.push_back([&](int n, const Plan& p) { return run_mpi(o, mpi, n, p); });
  for (int n : o.peers)
    for (int round = 0; round < o.rounds; ++round)
      for (std::size_t s = 0; s < plan.sizes.size(); ++s) {
        Plan one = plan;
        one.sizes = {plan.sizes[s]};
        one.reps = {plan.reps[s]};
        for (std::size_t i = 0; i < impls.size(); ++i) add(impls[round % 2 ? impls.size() - 1 - i : i](n, one));
      }
  std::vector<Measurement> all;
  for (auto& [k, m] : pooled) all.push_back(std::move(m));
  std::stable_sort(all.begin(), all.end(), [](const Measurement& a, const Measurement& b) {
    if (a.peers != b.peers) return a.peers < b.peers;
    if (a.bytes != b.bytes) return a.bytes < b.bytes;
    if (a.impl.starts_with("chorus") != b.impl.starts_with("chorus")) return a.impl.starts_with("chorus");
    return a.impl < b.impl;
  });
  report(o, all, notes);
  for (const auto& m : all)
    if (!m.ok) return 1;
  return 0;
}

const bool registered = chorus::tools::register_bench(
    {"allreduce",
     "Ring all-reduce between N local processes (security off and on) beside Gloo and MPI over TCP",
     [](CLI::App& app) {
       using chorus::tools::checked_by;
       using chorus::tools::comma_list;
       using chorus::tools::in_range;
       auto o = std::make_shared<Options>();
       auto sizes = std::make_shared<std::vector<std::string>>();
       *sizes = {"1MiB", "4MiB", "16MiB", "64MiB"};
       app.add_flag("--json", o->json, "One JSON line per measurement");
       comma_list(app.add_option("--peers", o->peers, "Processes (a comma list runs each)"))
           ->check(in_range(1, 64))
           ->capture_default_str();
       comma_list(app.add_option("--size", *sizes, "Buffer sizes, comma-separated (B, KiB, MiB, GiB)"))
           ->check(checked_by([](const std::string& size) { parse_size(size); }))
           ->capture_default_str();
       app.add_option("--security", o->security, "off, on (swarm key, encrypted) or both")
           ->check(CLI::IsMember({"off", "on", "both"}))
           ->capture_default_str();
       comma_list(app.add_option("--baselines", o->baselines, "gloo,mpi | auto (those built) | none"))
           ->check(CLI::IsMember({"auto", "none", "gloo", "mpi"}))
           ->capture_default_str();
       app.add_option("--reps", o->reps, "Timed repetitions per size (0: by size)")->check(CLI::Range(0, 100000));
       app.add_option("--rounds", o->rounds, "Measure everything this many times (implementations taking turns), pooling repetitions")
           ->capture_default_str()->check(CLI::Range(1, 100));
       app.add_option("--chunk-kib", o->chunk_kib, "chorus chunk size in KiB (0: automatic)")
           ->check(CLI::Range(0, 65536));
       app.add_flag("--ipc", o->ipc, "Run chorus over ipc:// (Unix sockets) instead of TCP; Gloo and MPI stay on TCP");
       app.add_option("--gloo", o->gloo_bin, "The Gloo baseline program (default: next to chorus)");
       app.add_option("--mpi", o->mpi_bin, "The MPI baseline program (default: next to chorus)");
       app.add_option("--mpirun", o->mpirun, "mpirun to launch the MPI baseline with")->capture_default_str();
       return [o, sizes]() -> int {
         o->sizes.clear();
         for (const auto& s : *sizes) o->sizes.push_back(parse_size(s));
         return run(*o);
       };
     }});

}  // namespace
