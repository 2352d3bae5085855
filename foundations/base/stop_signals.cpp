#include "foundations/base/stop_signals.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>

#include "foundations/base/error.h"

namespace chorus {
namespace {

std::atomic<int> g_count{0};
std::atomic<bool> g_exit_on_second{false};
bool g_alive = false;
struct sigaction g_old_int, g_old_term, g_old_hup;
bool g_hangup = false;

static_assert(std::atomic<int>::is_always_lock_free, "a signal handler may only touch lock-free atomics");

extern "C" void on_stop_signal(int) {
  if (g_count.fetch_add(1) >= 1 && g_exit_on_second.load()) _exit(130);
}

}  // namespace

StopSignals::StopSignals(Options options) {
  CHORUS_CHECK(!g_alive, "one StopSignals at a time");
  g_alive = true;
  g_hangup = options.hangup;
  g_exit_on_second.store(options.exit_on_second);
  g_count.store(0);
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
  if (g_hangup) sigaction(SIGHUP, &sa, &g_old_hup);
}

StopSignals::~StopSignals() {
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
  if (g_hangup) sigaction(SIGHUP, &g_old_hup, nullptr);
  g_count.store(0);
  g_alive = false;
}

int StopSignals::count() { return g_count.load(); }

}  // namespace chorus
