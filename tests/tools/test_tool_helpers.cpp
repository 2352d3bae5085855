// The helpers the chorus subcommands share (tools/chorus): statistics of measurements, the
// process helper; and the stop signals every chorus process counts (foundations/base).
#include <doctest/doctest.h>

#include <csignal>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <vector>

#include "foundations/base/stop_signals.h"
#include "tools/chorus/child_process.h"
#include "tools/chorus/statistics.h"

using chorus::tools::ChildProcess;

using chorus::tools::median;
using chorus::tools::percentile;

TEST_CASE("median: the middle value, the mean of the middle two for an even count") {
  CHECK(median({}) == 0);
  CHECK(median({3}) == 3);
  CHECK(median({5, 1, 3}) == 3);
  CHECK(median({4, 1, 3, 2}) == 2.5);
  CHECK(median({10, 1}) == 5.5);
}

TEST_CASE("percentile: the sorted value at floor(q n), the largest past the end") {
  std::vector<double> v;
  for (int i = 100; i >= 1; --i) v.push_back(i);
  CHECK(percentile({}, 0.5) == 0);
  CHECK(percentile(v, 0) == 1);
  CHECK(percentile(v, 0.99) == 100);
  CHECK(percentile(v, 0.5) == 51);
  CHECK(percentile(v, 1) == 100);
}

TEST_CASE("a forked function's return value is the child's exit code; a throw is exit code 1") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  ChildProcess child = ChildProcess::forked("test child", [&] {
    ::close(fds[0]);
    const char byte = 'x';
    return ::write(fds[1], &byte, 1) == 1 ? 7 : 3;
  });
  ::close(fds[1]);
  char byte = 0;
  CHECK(::read(fds[0], &byte, 1) == 1);
  ::close(fds[0]);
  CHECK(byte == 'x');
  CHECK(child.wait() == 7);
  CHECK_FALSE(child.running());
  CHECK(child.wait() == 7);  // nothing left to wait for: the same code again

  ChildProcess thrower = ChildProcess::forked("test child", []() -> int { throw std::runtime_error("no"); });
  CHECK(thrower.wait() == 1);
}

TEST_CASE("a forked child still running when its object goes away is killed and reaped") {
  pid_t pid = -1;
  {
    ChildProcess sleeper = ChildProcess::forked("test child", [] {
      ::sleep(60);
      return 0;
    });
    pid = sleeper.pid();
    CHECK(sleeper.running());
    CHECK_FALSE(sleeper.wait_for(std::chrono::milliseconds(50)));
  }
  CHECK(::kill(pid, 0) != 0);  // gone, and reaped (no zombie keeps the pid)
}

TEST_CASE("stop signals are counted while a StopSignals lives; the old handlers come back after it") {
  using chorus::StopSignals;
  CHECK(StopSignals::count() == 0);
  {
    const StopSignals signals({.hangup = true, .exit_on_second = false});
    CHECK_FALSE(StopSignals::requested());
    ::raise(SIGTERM);
    ::raise(SIGHUP);
    ::raise(SIGINT);
    CHECK(StopSignals::count() == 3);
    CHECK(StopSignals::requested());
    CHECK_THROWS(StopSignals());  // one at a time
  }
  CHECK(StopSignals::count() == 0);
  // The old disposition (here the default: doctest's own handler would report a crash) is back:
  // SIGTERM ends a child that counted it before.
  ChildProcess child = ChildProcess::forked("test child", [] {
    std::signal(SIGTERM, SIG_DFL);
    { const StopSignals signals; ::raise(SIGTERM); }
    ::raise(SIGTERM);
    return 0;
  });
  CHECK(child.wait() == 128 + SIGTERM);
}

TEST_CASE("with exit_on_second the second stop signal ends the process with 130") {
  ChildProcess child = ChildProcess::forked("test child", [] {
    const chorus::StopSignals signals({.hangup = false, .exit_on_second = true});
    ::raise(SIGINT);
    if (chorus::StopSignals::count() != 1) return 1;
    ::raise(SIGTERM);
    return 2;  // not reached
  });
  CHECK(child.wait() == 130);
}
