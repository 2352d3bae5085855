#pragma once
// A child process for the multi-process tests: a program started with arguments, its standard
// input and output piped to the test or its output sent to a file, signalled, waited for with a
// bound, and always reaped -- SIGKILL if it lingers -- when the object goes away.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace chorus_test {

// Where a child's standard streams go; anything not named is inherited from the test.
struct ChildStreams {
  bool pipe_stdin = false;    // the test writes lines to it (write_line) and closes it (close_stdin)
  bool pipe_stdout = false;   // the test reads it (take_stdout)
  std::string output_file{};  // standard error, and standard output unless piped, appended here
  // How long stop() (and so the destructor) waits, after closing standard input, for the child
  // to exit by itself before it sends SIGKILL (0: at once).
  std::chrono::milliseconds grace{0};
};

class ChildProcess {
 public:
  // Starts `program` with `args` (no shell). Throws if a pipe or the fork fails; a program that
  // cannot be executed exits 127.
  ChildProcess(const std::string& program, const std::vector<std::string>& args, ChildStreams streams = {})
      : grace_(streams.grace) {
    std::vector<std::string> argv_s{program};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : argv_s) argv.push_back(s.data());
    argv.push_back(nullptr);
    int in[2] = {-1, -1}, out[2] = {-1, -1};  // close-on-exec: no other child inherits them
    const auto fail = [&](const char* what) {
      for (int fd : {in[0], in[1], out[0], out[1]})
        if (fd >= 0) ::close(fd);
      throw std::runtime_error(what);
    };
    if ((streams.pipe_stdin && ::pipe2(in, O_CLOEXEC) != 0) || (streams.pipe_stdout && ::pipe2(out, O_CLOEXEC) != 0))
      fail("pipe failed");
    pid_ = ::fork();
    if (pid_ < 0) fail("fork failed");
    if (pid_ == 0) {
      if (!streams.output_file.empty()) {
        const int fd = ::open(streams.output_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) {
          ::dup2(fd, 1);
          ::dup2(fd, 2);
        }
      }
      if (streams.pipe_stdin) ::dup2(in[0], 0);
      if (streams.pipe_stdout) ::dup2(out[1], 1);
      ::execv(argv_s[0].c_str(), argv.data());
      ::_exit(127);
    }
    if (streams.pipe_stdin) {
      ::close(in[0]);
      stdin_ = in[1];
    }
    if (streams.pipe_stdout) {
      ::close(out[1]);
      stdout_ = out[0];
    }
  }
  ~ChildProcess() { stop(); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Closes standard input, lets a stopped child go on, waits up to the grace for it to exit,
  // then kills it; the child is reaped in every case. Blocks for the grace at most.
  void stop() {
    close_stdin();
    if (running()) {
      if (stopped_) ::kill(pid_, SIGCONT);
      wait(grace_);
    }
    signal(SIGKILL);
    if (stdout_ >= 0) ::close(stdout_);
    stdout_ = -1;
  }

  // Sends a signal (nothing once the child has been reaped); SIGKILL also reaps it, and a child
  // stopped by SIGSTOP is sent SIGCONT before stop() waits for it.
  void signal(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    if (sig == SIGSTOP) stopped_ = true;
    if (sig == SIGCONT) stopped_ = false;
    if (sig == SIGKILL) {
      int status = 0;
      ::waitpid(pid_, &status, 0);
      reaped(status);
    }
  }

  // Waits up to `timeout` (polling every 10 ms) for the child to end; returns exit_code() (-1 if
  // it still runs).
  int wait(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pid_ > 0) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped(status);
        break;
      }
      if (std::chrono::steady_clock::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return exit_code_;
  }
  bool running() { return wait(std::chrono::milliseconds(0)) == -1; }
  // The exit status, 128 + the signal when a signal ended it, or -1 while it runs.
  int exit_code() const { return exit_code_; }

  // Writes `line` and a newline to the child's piped standard input (nothing once it is closed).
  // Blocks only while the pipe is full.
  void write_line(const std::string& line) {
    if (stdin_ < 0) return;
    const std::string l = line + "\n";
    [[maybe_unused]] ssize_t n = ::write(stdin_, l.data(), l.size());
  }
  void close_stdin() {
    if (stdin_ >= 0) ::close(stdin_);
    stdin_ = -1;
  }
  // The read end of the piped standard output, which the caller now owns and closes (-1 when
  // not piped or already taken).
  int take_stdout() {
    const int fd = stdout_;
    stdout_ = -1;
    return fd;
  }

 private:
  void reaped(int status) {
    pid_ = -1;
    stopped_ = false;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  std::chrono::milliseconds grace_;
  pid_t pid_ = -1;
  int stdin_ = -1, stdout_ = -1;
  bool stopped_ = false;
  int exit_code_ = -1;
};

}  // namespace chorus_test
