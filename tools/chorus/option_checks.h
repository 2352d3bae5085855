#pragma once
// Checks of single option values for CLI11 (Option::check), run as the command line is parsed:
// a value outside its range is "--OPTION: must be …, not VALUE" (exit code 2) before the
// command does anything. The description a check carries shows in --help beside the type.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cmath>
#include <functional>
#include <string>

#include "foundations/base/error.h"
#include "foundations/base/option_set.h"

namespace chorus::tools {

// `text` as a finite number, all of it; UserError "WHERE: 'TEXT' is not a number" otherwise (for
// numbers inside a larger value, such as the times in a fault plan).
inline double parse_number(const std::string& text, const std::string& where) {
  try {
    std::size_t used = 0;
    const double v = std::stod(text, &used);
    if (used == text.size() && std::isfinite(v)) return v;
  } catch (const std::exception&) {
  }
  throw UserError(fmt::format("{}: '{}' is not a number", where, text));
}

// A number of type T at least `min`.
template <typename T>
CLI::Validator at_least(T min) {
  return CLI::Validator(
      [min](std::string& text) -> std::string {
        T value{};
        if (!CLI::detail::lexical_cast(text, value)) return fmt::format("'{}' is not a number", text);
        return value >= min ? std::string() : fmt::format("must be at least {}, not {}", min, text);
      },
      fmt::format("at least {}", min));
}

// Which ends of a range belong to it: [lo, hi], (lo, hi] or [lo, hi).
enum class Ends { closed, open_low, open_high };

// A number of type T in the range from lo to hi (the strategies' options use the same Interval).
template <typename T>
CLI::Validator in_range(T lo, T hi, Ends ends = Ends::closed) {
  const Interval range{static_cast<double>(lo), static_cast<double>(hi), ends == Ends::open_low,
                       ends == Ends::open_high};
  return CLI::Validator(
      [range](std::string& text) -> std::string {
        T value{};
        if (!CLI::detail::lexical_cast(text, value)) return fmt::format("'{}' is not a number", text);
        return range.contains(static_cast<double>(value)) ? std::string()
                                                          : fmt::format("must lie in {}, not {}", range.text(), text);
      },
      "in " + range.text());
}

// A value that `check` accepts: check throws UserError with the reason (e.g. a parser of the
// layer the value is for, so the option says what that layer says).
inline CLI::Validator checked_by(std::function<void(const std::string&)> check) {
  return CLI::Validator(
      [check = std::move(check)](std::string& text) -> std::string {
        try {
          check(text);
        } catch (const UserError& e) {
          return e.what();
        }
        return {};
      },
      "");
}

}  // namespace chorus::tools
