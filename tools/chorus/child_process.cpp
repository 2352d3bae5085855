#include "tools/chorus/child_process.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <thread>

#include "foundations/base/error.h"

namespace chorus::tools {

namespace {

int exit_code_of(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

// Blocks until `pid` exits (a signal arriving meanwhile does not end the wait); its exit code,
// or -1 when there was no such child to reap.
int reap(pid_t pid) {
  int status = 0;
  pid_t r;
  while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
  }
  return r == pid ? exit_code_of(status) : -1;
}

// Forks; the child takes SIGTERM when this process dies and exits with what `in_child`
// returns (1 when it throws). Returns the child's pid to the parent. `what` names the process
// in errors.
pid_t fork_child(const std::string& what, const std::function<int()>& in_child) {
  std::fflush(nullptr);  // what the tool has buffered is written once, not once more by the child
  const pid_t parent = getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw UserError(fmt::format("cannot start {} (fork failed: {})", what, std::strerror(errno)));
  if (pid > 0) return pid;
  prctl(PR_SET_PDEATHSIG, SIGTERM);     // a tool killed outright takes its children along
  if (getppid() != parent) _exit(127);  // the tool is already gone
  int code = 1;
  try {
    code = in_child();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", what.c_str(), e.what());
  } catch (...) {
  }
  std::fflush(nullptr);
  _exit(code);
}

std::vector<char*> c_argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const auto& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

void stdin_from_dev_null() {
  const int null = ::open("/dev/null", O_RDONLY);
  if (null >= 0) dup2(null, STDIN_FILENO);
}

}  // namespace

ChildProcess::ChildProcess(const std::vector<std::string>& argv_s, const std::string& output_path) {
  if (argv_s.empty()) throw UserError("cannot start a process without a command");
  std::vector<char*> argv = c_argv(argv_s);
  pid_ = fork_child(argv_s[0], [&] {
    const int fd = output_path.empty() ? ::open("/dev/null", O_WRONLY)
                                       : ::open(output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      ::close(fd);
    }
    stdin_from_dev_null();
    setpgid(0, 0);  // Ctrl-C reaches the tool, which stops its children in order
    // Children start with default signal dispositions and an empty mask.
    struct sigaction sa {};
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) sigaction(sig, &sa, nullptr);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execvp(argv[0], argv.data());
    return 127;
  });
}

ChildProcess ChildProcess::forked(const std::string& name, const std::function<int()>& body) {
  ChildProcess child;
  child.pid_ = fork_child(name, body);
  return child;
}

ChildProcess::~ChildProcess() { kill_and_reap(); }

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(other.pid_), exit_code_(other.exit_code_) {
  other.pid_ = -1;
}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    kill_and_reap();
    pid_ = other.pid_;
    exit_code_ = other.exit_code_;
    other.pid_ = -1;
  }
  return *this;
}

bool ChildProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_code_ = exit_code_of(status);
    pid_ = -1;
    return false;
  }
  if (r < 0) {  // not our child any more (already reaped elsewhere)
    pid_ = -1;
    return false;
  }
  return true;
}

void ChildProcess::signal(int sig) const {
  if (pid_ > 0) ::kill(pid_, sig);
}

int ChildProcess::wait() {
  if (pid_ <= 0) return exit_code_;
  if (const int code = reap(pid_); code != -1) exit_code_ = code;
  pid_ = -1;
  return exit_code_;
}

bool ChildProcess::wait_for(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

void ChildProcess::terminate(std::chrono::milliseconds grace) {
  if (!running()) return;
  signal(SIGCONT);  // a stopped process handles SIGTERM only once it runs
  signal(SIGTERM);
  if (!wait_for(grace)) kill_and_reap();
}

void ChildProcess::kill_and_reap() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  if (const int code = reap(pid_); code != -1) exit_code_ = code;
  pid_ = -1;
}

CommandOutput capture_command(const std::vector<std::string>& argv_s) {
  CommandOutput r;
  if (argv_s.empty()) return r;
  int fds[2];
  if (pipe(fds) != 0) return r;
  std::vector<char*> argv = c_argv(argv_s);
  pid_t pid = -1;
  try {
    pid = fork_child(argv_s[0], [&] {
      dup2(fds[1], STDOUT_FILENO);
      dup2(fds[1], STDERR_FILENO);
      ::close(fds[0]);
      ::close(fds[1]);
      stdin_from_dev_null();
      execvp(argv[0], argv.data());
      return 127;
    });
  } catch (const UserError&) {
    ::close(fds[0]);
    ::close(fds[1]);
    return r;
  }
  ::close(fds[1]);
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) r.output.append(buf, static_cast<std::size_t>(n));
    else if (n == 0 || errno != EINTR) break;
  }
  ::close(fds[0]);
  r.exit_code = reap(pid);
  return r;
}

std::string chorus_executable() {
  char path[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) throw UserError("cannot find the chorus executable (/proc/self/exe is unreadable)");
  return std::string(path, static_cast<std::size_t>(n));
}

}  // namespace chorus::tools
