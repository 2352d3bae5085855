#pragma once
// Comma-separated list options, one spelling for every command: `--peers 2,4 --peers 8` gives
// 2, 4 and 8; spaces around an item are dropped, and so are empty items (a trailing comma).
// Checks added to the option afterwards (Option::check) see each item on its own.
#include <CLI/CLI.hpp>

#include <string>

namespace chorus::tools {

inline CLI::Option* comma_list(CLI::Option* option) {
  return option->delimiter(',')->transform([](std::string item) { return CLI::detail::trim(item); });
}

}  // namespace chorus::tools
