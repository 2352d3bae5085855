#pragma once
// ChildProcess: one process started by a chorus tool (a peer of a local swarm, a network
// relay, a benchmark's server), with its stdout and stderr in a file, in its own process
// group so that a Ctrl-C at the terminal reaches only the tool, which then stops its children
// in order; or a forked copy of the tool running one function (forked()). A child gets
// SIGTERM when the tool dies (also by SIGKILL), so none is left behind.
//
// The destructor kills (SIGKILL) and reaps a child that is still running, so no child
// outlives the object, also on an exception. Not thread-safe; signals never block, wait()
// blocks until the child exits, wait_for() polls for at most its timeout.
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace chorus::tools {

class ChildProcess {
 public:
  ChildProcess() = default;
  // Starts argv[0] (looked up in PATH when it has no slash) with `argv`; output (stdout and
  // stderr) goes to `output_path`, truncated, or is discarded when it is empty. Throws
  // UserError when the process cannot be created; an exec failure shows as exit code 127.
  ChildProcess(const std::vector<std::string>& argv, const std::string& output_path);
  // Runs `body` in a forked copy of this process, which then exits with body's return value
  // (1 when it throws, after writing "NAME: the exception's message" to stderr). The child shares the tool's
  // standard streams, process group and signal dispositions, and holds every descriptor the
  // tool had open (body closes those it must not hold, e.g. other children's pipe ends). Fork
  // before this process starts threads (a ZeroMQ context, …): the child has only the calling
  // thread, and a lock another thread held stays locked there. Throws UserError when the
  // process cannot be created.
  static ChildProcess forked(const std::string& name, const std::function<int()>& body);
  ~ChildProcess();
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool started() const { return pid_ > 0; }
  // Reaps the process if it has exited (never blocks); true while it runs.
  bool running();
  // Exit status once reaped: the exit code, or 128 + signal number; -1 while running.
  int exit_code() const { return exit_code_; }
  void signal(int sig) const;
  // Blocks until the process exits; returns exit_code() (-1 when there was none to wait for).
  int wait();
  // Polls until the process exits or `timeout` passes; returns running() == false.
  bool wait_for(std::chrono::milliseconds timeout);
  // SIGTERM, then SIGKILL when it has not exited within `grace`; reaps it.
  void terminate(std::chrono::milliseconds grace);

 private:
  void kill_and_reap();
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

// Runs argv (PATH lookup) to completion, capturing stdout and stderr together. Blocks.
// exit_code is -1 when the process could not be created, 127 when the program was not found.
struct CommandOutput {
  int exit_code = -1;
  std::string output;
};
CommandOutput capture_command(const std::vector<std::string>& argv);

// The absolute path of the running chorus executable (to start more chorus processes, also
// through a command prefix such as `ip netns exec NS`).
std::string chorus_executable();

}  // namespace chorus::tools
