#pragma once
// A transport_test_peer child process: started with arguments, its address read from its
// "READY" line (bounded wait), its standard error going to a file, and stopped -- standard
// input closed, then SIGKILL if it lingers past 3 s -- when the object goes away.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/child_process.h"
#include "tests/test_util.h"

namespace chorus_test {

class PeerProcess {
 public:
  PeerProcess(const std::vector<std::string>& args, std::string stderr_path)
      : stderr_path_(std::move(stderr_path)),
        child_(env_or("CHORUS_TEST_PEER", "build/tests/transport/transport_test_peer"), args,
               {.pipe_stdin = true, .pipe_stdout = true, .output_file = stderr_path_,
                .grace = std::chrono::milliseconds(3000)}) {
    // Read "READY <address>\n" within 10 s.
    const int out = child_.take_stdout();
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{out, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[256];
      const ssize_t n = ::read(out, buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, static_cast<std::size_t>(n));
    }
    ::close(out);
    if (!line.starts_with("READY ") || line.find('\n') == std::string::npos) {
      child_.stop();
      throw std::runtime_error("test peer did not start: " + line + " / " + stderr_text());
    }
    address_ = line.substr(6, line.find('\n') - 6);
  }
  PeerProcess(const PeerProcess&) = delete;
  PeerProcess& operator=(const PeerProcess&) = delete;

  const std::string& address() const { return address_; }

  // True while the process runs (it has not crashed or exited).
  bool alive() { return child_.running(); }
  // How it ended: the exit status, or 128 + the signal (-1 while it runs).
  int exit_code() const { return child_.exit_code(); }

  // Kills the process at once (SIGKILL), wherever it is.
  void kill_now() { child_.signal(SIGKILL); }

  std::string stderr_text() const {
    std::ifstream in(stderr_path_);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

 private:
  std::string stderr_path_;
  ChildProcess child_;
  std::string address_;
};

}  // namespace chorus_test
