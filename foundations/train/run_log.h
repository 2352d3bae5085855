#pragma once
// RunLog: the JSON-lines log every chorus process writes (--log FILE). One schema, kept here
// and extended by the networked peers through `extra` fields.
//
// Step lines:  {"t":s,"step":n,"epoch":e,"loss":x,"samples_per_s":r[,"test_acc":a][,...extra]}
// Event lines: {"t":s,"event":"NAME",...fields}; the last line of a finished run is
//              {"t":s,"event":"done","final_test_acc":a,...}.
// t is seconds since the log was opened (a monotonic clock). Each line is written whole and
// flushed, so a reader (chorus swarm, chorus compare) can tail the file while it grows and a
// killed process leaves only complete lines behind. A RunLog with no path writes nothing.
// Not thread-safe: one thread writes.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace chorus {

struct StepRecord {
  std::int64_t step = 0;
  std::int64_t epoch = 0;
  double loss = 0.0;
  double samples_per_s = 0.0;
  std::optional<double> test_acc;
  nlohmann::json extra = nlohmann::json::object();  // extension fields (peer, view, bytes_sent…)
};

class RunLog {
 public:
  RunLog() = default;
  // Opens (truncates, or appends when `append`) the log file; throws UserError if it can't.
  explicit RunLog(const std::string& path, bool append = false);
  ~RunLog();
  RunLog(const RunLog&) = delete;
  RunLog& operator=(const RunLog&) = delete;

  bool enabled() const { return file_ != nullptr; }
  double elapsed() const;  // seconds since construction
  void step(const StepRecord& record);
  void event(const std::string& name, const nlohmann::json& fields = nlohmann::json::object());
  void done(double final_test_acc, const nlohmann::json& fields = nlohmann::json::object());

 private:
  void write(const nlohmann::json& line);
  std::FILE* file_ = nullptr;
  std::string path_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace chorus
