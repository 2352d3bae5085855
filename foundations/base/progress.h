#pragma once
// Progress: the display of long work. On a terminal it redraws one status line in place
// (a bar, the caller's fields, and an ETA); elsewhere (a pipe, a CI log) it prints a plain
// line at most every `plain_interval_s` seconds and on finish(), so logs stay readable.
// Output goes to stderr so stdout stays clean for results (tables, JSON). One thread.
#include <chrono>
#include <cstdint>
#include <string>

namespace chorus {

class Progress {
 public:
  // total: units of work (steps); label: what is being done ("train mlp").
  Progress(std::string label, std::int64_t total, double plain_interval_s = 5.0);
  ~Progress();

  // Reports that `done` units are complete; `fields` is a short text ("loss 0.41 acc 0.87").
  void update(std::int64_t done, const std::string& fields);
  // Prints a message on its own line without disturbing the status line.
  void note(const std::string& message);
  // Ends the status line (on a terminal) with a final state.
  void finish(const std::string& fields);

  static bool stderr_is_terminal();
  static std::string format_duration(double seconds);  // "1:05", "1:02:03"

 private:
  void draw(std::int64_t done, const std::string& fields, bool final);
  std::string label_;
  std::int64_t total_;
  double plain_interval_s_;
  bool tty_;
  bool line_open_ = false;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace chorus
