#pragma once
// A membership_peer child process (membership_peer.cpp): started with arguments, its JSON
// lines collected by a reader thread as they come, signalled (SIGKILL, SIGSTOP, SIGCONT,
// SIGTERM) by the test, and stopped -- standard input closed, then SIGKILL if it lingers past
// 2 s -- when the object goes away. Every wait is bounded.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/child_process.h"
#include "tests/test_util.h"

namespace membership_test {

class PeerProcess {
 public:
  using Json = nlohmann::json;
  using Clock = std::chrono::steady_clock;

  explicit PeerProcess(const std::vector<std::string>& args)
      : child_(chorus_test::env_or("CHORUS_MEMBERSHIP_PEER", "build/tests/peers/membership_peer"), args,
               {.pipe_stdin = true, .pipe_stdout = true, .grace = std::chrono::milliseconds(2000)}) {
    reader_ = std::thread([this, fd = child_.take_stdout()] { read_lines(fd); });
  }
  ~PeerProcess() {
    child_.stop();
    if (reader_.joinable()) reader_.join();
  }
  PeerProcess(const PeerProcess&) = delete;
  PeerProcess& operator=(const PeerProcess&) = delete;

  // Sends a signal; SIGKILL also reaps the process.
  void signal(int sig) { child_.signal(sig); }
  // Waits for the process to exit; returns whether it did within the timeout.
  bool wait_exit(std::chrono::milliseconds timeout) { return child_.wait(timeout) != -1; }
  int exit_code() const { return child_.exit_code(); }

  void command(const std::string& line) { child_.write_line(line); }

  // The lines so far.
  std::vector<Json> lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
  }
  // The first line from index `from` on that satisfies `match`, waiting at most `timeout`.
  std::optional<Json> wait_for(const std::function<bool(const Json&)>& match, std::chrono::milliseconds timeout,
                               std::size_t from = 0) const {
    std::unique_lock lock(mutex_);
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      for (std::size_t i = from; i < lines_.size(); ++i)
        if (match(lines_[i])) return lines_[i];
      from = std::max(from, lines_.size());
      if (closed_ || cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
        for (std::size_t i = from; i < lines_.size(); ++i)
          if (match(lines_[i])) return lines_[i];
        return std::nullopt;
      }
    }
  }
  std::size_t line_count() const {
    std::lock_guard lock(mutex_);
    return lines_.size();
  }
  // Asks for the current view and returns it (bounded wait).
  std::optional<Json> view(std::chrono::milliseconds timeout = std::chrono::milliseconds(2000)) {
    const std::size_t from = line_count();
    command("view");
    return wait_for([](const Json& j) { return j.value("event", "") == "view"; }, timeout, from);
  }

 private:
  void read_lines(int fd) {
    std::string pending;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) break;
      pending.append(buf, static_cast<std::size_t>(n));
      for (std::size_t nl; (nl = pending.find('\n')) != std::string::npos; pending.erase(0, nl + 1)) {
        Json j = Json::parse(pending.substr(0, nl), nullptr, /*allow_exceptions=*/false);
        if (j.is_discarded()) continue;
        std::lock_guard lock(mutex_);
        lines_.push_back(std::move(j));
        cv_.notify_all();
      }
    }
    ::close(fd);
    std::lock_guard lock(mutex_);
    closed_ = true;
    cv_.notify_all();
  }

  chorus_test::ChildProcess child_;
  std::thread reader_;
  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
  std::vector<Json> lines_;
  bool closed_ = false;
};

// CLOCK_MONOTONIC in milliseconds, as the peers print it.
inline double monotonic_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace membership_test
