#pragma once
// Command line shared by the benchmark-only all-reduce programs (Gloo, MPI), which `chorus bench
// allreduce` runs beside chorus:
//   --sizes B1,B2,...   buffer sizes in bytes
//   --reps R1,R2,...    timed repetitions per size (after 2 untimed ones)
// Each rank prints, per size, one JSON line {"impl":...,"rank":r,"bytes":B,"times_s":[...],"ok":bool}
// (ok: a first all-reduce of known values gave the exact sum). No chorus code is used here.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

namespace bench {

inline std::vector<std::uint64_t> parse_list(const char* text) {
  std::vector<std::uint64_t> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(std::strtoull(item.c_str(), nullptr, 10));
  return out;
}

struct Args {
  std::vector<std::uint64_t> sizes, reps;
  std::string store;  // Gloo: rendezvous directory
  int rank = -1, size = 0;
  std::string algorithm;  // Gloo: ring | ring_chunked | allreduce_ring
};

inline Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--sizes") a.sizes = parse_list(v);
    else if (k == "--reps") a.reps = parse_list(v);
    else if (k == "--store") a.store = v;
    else if (k == "--rank") a.rank = std::atoi(v);
    else if (k == "--size") a.size = std::atoi(v);
    else if (k == "--algorithm") a.algorithm = v;
  }
  if (a.sizes.empty() || a.reps.size() != a.sizes.size()) {
    std::fprintf(stderr, "usage: %s --sizes B1,B2 --reps R1,R2 [...]\n", argv[0]);
    std::exit(2);
  }
  return a;
}

inline void print_times(const std::string& impl, int rank, std::uint64_t bytes, const std::vector<double>& times,
                        bool ok) {
  std::string line = "{\"impl\":\"" + impl + "\",\"rank\":" + std::to_string(rank) +
                     ",\"bytes\":" + std::to_string(bytes) + ",\"ok\":" + (ok ? "true" : "false") + ",\"times_s\":[";
  for (std::size_t i = 0; i < times.size(); ++i) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s%.9g", i ? "," : "", times[i]);
    line += buf;
  }
  line += "]}\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

// Fills rank r's buffer with r+1 + (i mod 5); after a sum over `size` ranks element i holds
// size*(size+1)/2 + size*(i mod 5), exactly.
inline void fill_known(std::vector<float>& v, int rank) {
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(rank + 1 + static_cast<int>(i % 5));
}
inline bool check_known(const std::vector<float>& v, int size) {
  for (std::size_t i = 0; i < v.size(); ++i)
    if (v[i] != static_cast<float>(size * (size + 1) / 2 + size * static_cast<int>(i % 5))) return false;
  return true;
}

using Clock = std::chrono::steady_clock;
inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace bench
