#include "foundations/base/option_set.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <charconv>
#include <cmath>

#include "foundations/base/error.h"

namespace chorus {

bool Interval::contains(double x) const {
  const bool above = low_open ? x > low : x >= low;
  const bool below = high_open ? x < high : x <= high;
  return above && below;
}

std::string Interval::text() const {
  return fmt::format("{}{}, {}{}", low_open ? '(' : '[', low, high, high_open ? ')' : ']');
}

OptionSet& OptionSet::add(Spec spec) {
  CHORUS_CHECK(find(spec.name) == nullptr, "option --" + spec.name + " declared twice");
  specs_.push_back(std::move(spec));
  return *this;
}

OptionSet& OptionSet::integer(std::string name, int& value, std::string help, int min, int max) {
  const std::string flag = "--" + name;
  return add({name, Type::integer, std::move(help), std::to_string(value), "N",
              [&value, flag, min, max](std::string_view text) {
                int v = 0;
                const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), v);
                if (error != std::errc() || end != text.data() + text.size() || v < min || v > max)
                  throw UserError(fmt::format("{} must be an integer from {} to {}, not '{}'", flag, min, max, text));
                value = v;
              }});
}

OptionSet& OptionSet::real(std::string name, float& value, std::string help, Interval range) {
  const std::string flag = "--" + name;
  return add({name, Type::real, std::move(help), fmt::format("{}", value), "X",
              [&value, flag, range](std::string_view text) {
                float v = 0;
                const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), v);
                if (error != std::errc() || end != text.data() + text.size() || !std::isfinite(v) ||
                    !range.contains(v))
                  throw UserError(fmt::format("{} must be a number in {}, not '{}'", flag, range.text(), text));
                value = v;
              }});
}

OptionSet& OptionSet::choice(std::string name, std::string& value, std::string help,
                             std::vector<std::string> choices) {
  const std::string flag = "--" + name;
  return add({name, Type::text, std::move(help), value, "NAME",
              [&value, flag, choices](std::string_view text) {
                for (const auto& c : choices)
                  if (c == text) {
                    value = c;
                    return;
                  }
                throw UserError(fmt::format("{} must be one of {}, not '{}'", flag, fmt::join(choices, ", "), text));
              }});
}

OptionSet& OptionSet::text(std::string name, std::string& value, std::string help,
                           std::function<void(const std::string&)> check) {
  return add({name, Type::text, std::move(help), value, "TEXT",
              [&value, check = std::move(check)](std::string_view text) {
                std::string v(text);
                if (check) check(v);
                value = std::move(v);
              }});
}

OptionSet& OptionSet::flag(std::string name, bool& value, std::string help) {
  const std::string flag = "--" + name;
  return add({name, Type::flag, std::move(help), "", "", [&value, flag](std::string_view text) {
                if (text.empty() || text == "true") {
                  value = true;
                } else if (text == "false") {
                  value = false;
                } else {
                  throw UserError(fmt::format("{} is a flag: give it alone (or =true / =false), not '{}'", flag, text));
                }
              }});
}

const OptionSet::Spec* OptionSet::find(std::string_view name) const {
  for (const auto& s : specs_)
    if (s.name == name) return &s;
  return nullptr;
}

void OptionSet::set(std::string_view name, std::string_view text) {
  const Spec* spec = find(name);
  if (!spec)
    throw UserError(fmt::format("--{} is not an option here ({})", name,
                                specs_.empty() ? std::string("there are none") : "the options: " + flags()));
  spec->set(text);
}

std::string OptionSet::flags() const {
  std::string out;
  for (const auto& s : specs_) out += (out.empty() ? "--" : ", --") + s.name;
  return out;
}

}  // namespace chorus
