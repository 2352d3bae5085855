// Replays the frame decoder fuzz target's seed corpus (fuzz/corpus) through the same entry
// point: valid-* seeds must be accepted, bad-<reason>-* seeds refused for exactly that reason,
// and every prefix of every seed refused without escaping.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "fuzz/frame_decoder_target.h"
#include "tests/test_util.h"

using namespace chorus;

namespace {
std::vector<std::uint8_t> read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::optional<RejectReason> reason_named(const std::string& name) {
  for (std::size_t i = 0; i < kRejectReasonCount; ++i) {
    const auto r = static_cast<RejectReason>(i);
    if (name == reject_reason_name(r)) return r;
  }
  return std::nullopt;
}
}  // namespace

TEST_CASE("the seed corpus decodes as its file names say") {
  const auto dir = std::filesystem::path(chorus_test::source_root()) / "fuzz" / "corpus";
  REQUIRE(std::filesystem::is_directory(dir));
  int valid = 0, bad = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    const auto bytes = read_file(entry.path());
    CAPTURE(name);
    const auto verdict = fuzz::open_fuzz_input(bytes.data(), bytes.size());
    if (name.starts_with("valid-")) {
      CHECK(verdict.accepted);
      ++valid;
    } else if (name.starts_with("bad-")) {
      const std::string rest = name.substr(4);
      const std::string reason = rest.substr(0, rest.find('-'));
      const auto expected = reason_named(reason);
      REQUIRE_MESSAGE(expected.has_value(), "unknown reason in seed name");
      CHECK_FALSE(verdict.accepted);
      REQUIRE(verdict.reason.has_value());
      CHECK(std::string(reject_reason_name(*verdict.reason)) == reason);
      ++bad;
    }
    // Every proper prefix cuts the head or the body short: refused, never escaping.
    for (std::size_t n = 0; n < bytes.size(); ++n) CHECK_FALSE(fuzz::open_fuzz_input(bytes.data(), n).accepted);
  }
  CHECK(valid >= 7);
  CHECK(bad >= 15);
}
