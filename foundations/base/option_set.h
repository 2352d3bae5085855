#pragma once
// OptionSet: the named, typed settings of one component (a strategy, ...), each declared once
// with its help text, its default (the bound variable's value when declared) and its valid
// range, and set from text: a command-line flag, an entry of `chorus compare --strategies`
// (kavg/k=8), a test. The command line, the comparison tool and the tests then share one
// definition of every option and one message for every bad value.
//
// Names are flag names without their dashes ("k", "lambda-local"). set() parses the text
// (the whole of it), checks the range and stores the value in the bound variable; a bad value is
// a UserError naming the flag ("--k must be an integer from 1 to 1000000, not 0"). A flag
// (boolean) takes "", "true" or "false".
//
// The set holds references to the variables it was declared over: it must not outlive them
// (keep both in one object that is not copied). Not thread-safe; used while configuring,
// before anything runs.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace chorus {

// A range of real numbers, each end open or closed: [0, 1] is Interval::closed(0, 1).
struct Interval {
  double low = 0, high = 0;
  bool low_open = false, high_open = false;
  static Interval closed(double low, double high) { return {low, high, false, false}; }
  static Interval left_open(double low, double high) { return {low, high, true, false}; }
  bool contains(double x) const;
  std::string text() const;  // "(0, 1]"
};

class OptionSet {
 public:
  enum class Type { integer, real, text, flag };
  struct Spec {
    std::string name;
    Type type = Type::text;
    std::string help;
    std::string default_text;  // the value when declared, as text; "" for a flag
    std::string value_name;    // what the value is called in --help ("N", "X", "NAME"); "" for a flag
    std::function<void(std::string_view)> set;  // parses, checks and stores; UserError when bad
  };

  OptionSet& integer(std::string name, int& value, std::string help, int min, int max);
  OptionSet& real(std::string name, float& value, std::string help, Interval range);
  // One of `choices`.
  OptionSet& choice(std::string name, std::string& value, std::string help, std::vector<std::string> choices);
  // Any text that `check` accepts (it throws UserError otherwise); no check: any text.
  OptionSet& text(std::string name, std::string& value, std::string help,
                  std::function<void(const std::string&)> check = {});
  OptionSet& flag(std::string name, bool& value, std::string help);

  const Spec* find(std::string_view name) const;
  // Sets `name` from `text`; UserError for an unknown name (listing the known ones) or a bad
  // value.
  void set(std::string_view name, std::string_view text);
  const std::vector<Spec>& specs() const { return specs_; }
  // "--a, --b": the flags, for messages.
  std::string flags() const;

 private:
  OptionSet& add(Spec spec);
  std::vector<Spec> specs_;
};

}  // namespace chorus
