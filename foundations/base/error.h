#pragma once
// Errors, split by what the caller can do about them.
//
// UserError: the user can fix it (a bad flag, a missing or corrupt file, no GPU where one was
// asked for). The tools print "chorus: error: <what>" on one line and exit with exit_code().
// Messages name the thing that is wrong and, where possible, what to do.
//
// CHORUS_CHECK: an internal invariant; throws InvariantError carrying file and line. Seeing one
// is a bug in chorus, never the user's fault.
#include <stdexcept>
#include <string>

namespace chorus {

class UserError : public std::runtime_error {
 public:
  explicit UserError(const std::string& what, int exit_code = 2)
      : std::runtime_error(what), exit_code_(exit_code) {}
  int exit_code() const noexcept { return exit_code_; }

 private:
  int exit_code_;
};

class InvariantError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

[[noreturn]] void throw_invariant(const char* expr, const char* file, int line,
                                  const std::string& msg);

}  // namespace chorus

#define CHORUS_CHECK(cond, msg)                                              \
  do {                                                                       \
    if (!(cond)) ::chorus::throw_invariant(#cond, __FILE__, __LINE__, (msg)); \
  } while (0)
