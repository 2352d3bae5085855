#include "foundations/base/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace chorus {

Progress::Progress(std::string label, std::int64_t total, double plain_interval_s)
    : label_(std::move(label)),
      total_(std::max<std::int64_t>(total, 1)),
      plain_interval_s_(plain_interval_s),
      tty_(stderr_is_terminal()),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_ - std::chrono::hours(1)) {}

Progress::~Progress() {
  if (line_open_) std::fputs("\n", stderr);
}

bool Progress::stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

std::string Progress::format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "--:--";
  const auto s = static_cast<long>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

void Progress::update(std::int64_t done, const std::string& fields) {
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  if (since < (tty_ ? 0.1 : plain_interval_s_)) return;
  last_draw_ = now;
  draw(done, fields, false);
}

void Progress::note(const std::string& message) {
  if (line_open_) std::fputs("\r\033[K", stderr);
  std::fprintf(stderr, "%s\n", message.c_str());
  line_open_ = false;
  std::fflush(stderr);
}

void Progress::finish(const std::string& fields) {
  if (finished_) return;
  finished_ = true;
  draw(total_, fields, true);
  if (line_open_) std::fputs("\n", stderr);
  line_open_ = false;
  std::fflush(stderr);
}

void Progress::draw(std::int64_t done, const std::string& fields, bool final) {
  done = std::clamp<std::int64_t>(done, 0, total_);
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double fraction = static_cast<double>(done) / static_cast<double>(total_);
  const std::string time =
      final ? fmt::format("in {}", format_duration(elapsed))
            : fmt::format("ETA {}", done > 0 ? format_duration(elapsed * (1 - fraction) / fraction)
                                             : std::string("--:--"));
  if (tty_) {
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(fraction * kWidth);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(kWidth, '.');
    std::fprintf(stderr, "\r\033[K%s [%s] %3.0f%% %s  %s", label_.c_str(), bar.c_str(),
                 fraction * 100, fields.c_str(), time.c_str());
    line_open_ = true;
  } else {
    std::fprintf(stderr, "%s %lld/%lld (%.0f%%) %s %s\n", label_.c_str(),
                 static_cast<long long>(done), static_cast<long long>(total_), fraction * 100,
                 fields.c_str(), time.c_str());
  }
  std::fflush(stderr);
}

}  // namespace chorus
