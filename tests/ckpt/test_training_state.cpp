// TrainingState encode/decode: bit-exact round trips, and every kind of damage (truncation,
// flipped bytes, NaN/Inf inside, absurd lengths and counts, bad magic or version) rejected
// with a UserError that names the source.
#include <doctest/doctest.h>

#include <limits>
#include <string>

#include "foundations/base/error.h"
#include "tests/ckpt/state_fixtures.h"

using namespace chorus;
using ckpt_test::bits_equal;
using ckpt_test::fix_crc;
using ckpt_test::Layout;
using ckpt_test::put_le;
using ckpt_test::random_state;

namespace {

const std::string kWhat = "/ckpt/dir/checkpoint.bin";

// Decoding must fail with a UserError that names kWhat and (if given) mentions `problem`.
void check_rejected(const std::vector<std::byte>& bytes, const std::string& problem = "") {
  try {
    TrainingState::decode(bytes, kWhat);
    FAIL("decode accepted damaged bytes");
  } catch (const UserError& e) {
    const std::string message = e.what();
    CHECK_MESSAGE(message.rfind(kWhat + ": ", 0) == 0, message);
    if (!problem.empty()) CHECK_MESSAGE(message.find(problem) != std::string::npos, message);
  }
}

// The state's encoding changed by `edit(bytes)`, with its CRC made valid again.
template <typename Edit>
std::vector<std::byte> modified(const TrainingState& s, Edit edit) {
  std::vector<std::byte> bytes = s.encode();
  edit(bytes);
  fix_crc(bytes);
  return bytes;
}

}  // namespace

TEST_CASE("round trip is bit-exact") {
  for (auto [n_params, n_state] : {std::pair<std::size_t, std::size_t>{0, 0}, {1, 0}, {0, 3}, {100, 200},
                                   {100000, 300000}}) {
    CAPTURE(n_params);
    CAPTURE(n_state);
    const TrainingState s = random_state(static_cast<std::uint32_t>(n_params + n_state), n_params, n_state);
    const std::vector<std::byte> bytes = s.encode();
    CHECK(bytes.size() == Layout(s.model.size(), s.optimizer.size()).floats + 4 * (n_params + n_state) + 4);
    const TrainingState back = TrainingState::decode(bytes, kWhat);
    CHECK(bits_equal(back, s));
    CHECK(back.encode() == bytes);
  }
  // Names at the limits: empty, and 64 printable characters.
  TrainingState s = random_state(7, 10, 10, "", std::string(64, '~'));
  s.offset = std::numeric_limits<std::uint64_t>::max();
  s.step = std::numeric_limits<std::int64_t>::max();
  CHECK(bits_equal(TrainingState::decode(s.encode(), kWhat), s));
}

TEST_CASE("the encoding starts with the magic and version and ends with a CRC-32 of the rest") {
  const TrainingState s = random_state(1, 5, 5);
  std::vector<std::byte> bytes = s.encode();
  CHECK(std::string(reinterpret_cast<const char*>(bytes.data()), 4) == "CHST");
  CHECK(bytes[4] == std::byte{2});
  const std::vector<std::byte> original = bytes;
  fix_crc(bytes);  // recomputing it independently changes nothing
  CHECK(bytes == original);
}

TEST_CASE("a version-1 state (no shard size) still decodes, with shard size 0") {
  const TrainingState s = random_state(3, 6, 6);
  const Layout at(s.model.size(), s.optimizer.size());
  const std::vector<std::byte> bytes = modified(s, [&](auto& b) {
    b.erase(b.begin() + static_cast<std::ptrdiff_t>(at.shard_size),
            b.begin() + static_cast<std::ptrdiff_t>(at.shard_size + 8));
    put_le(b, 4, std::uint32_t{1});
  });
  const TrainingState back = TrainingState::decode(bytes, kWhat);
  TrainingState expected = s;
  expected.shard_size = 0;
  CHECK(bits_equal(back, expected));
}

TEST_CASE("truncation at any offset is rejected") {
  const std::vector<std::byte> small = random_state(2, 20, 30).encode();
  for (std::size_t n = 0; n < small.size(); ++n) {
    CAPTURE(n);
    check_rejected(std::vector<std::byte>(small.begin(), small.begin() + static_cast<std::ptrdiff_t>(n)));
  }
  // A large state cut short inside its floats says it is truncated.
  const std::vector<std::byte> large = random_state(3, 250000, 10000).encode();
  for (std::size_t n : {large.size() - 1, large.size() - 4, large.size() - 5, large.size() / 2, std::size_t{100}}) {
    CAPTURE(n);
    check_rejected(std::vector<std::byte>(large.begin(), large.begin() + static_cast<std::ptrdiff_t>(n)), "truncated");
  }
  // Extra bytes are damage too.
  std::vector<std::byte> longer = small;
  longer.push_back(std::byte{0});
  check_rejected(longer);
}

TEST_CASE("any flipped byte is rejected; inside names and values the CRC catches it") {
  const TrainingState s = random_state(4, 16, 16);
  const std::vector<std::byte> good = s.encode();
  const Layout at(s.model.size(), s.optimizer.size());
  for (std::size_t i = 0; i < good.size(); ++i)
    for (std::byte mask : {std::byte{0x01}, std::byte{0x80}, std::byte{0xff}}) {
      CAPTURE(i);
      std::vector<std::byte> bad = good;
      bad[i] ^= mask;
      const bool covered_by_crc_only = (i >= at.model_len + 4 && i < at.optimizer_len) ||
                                       (i >= at.optimizer_len + 4 && i < at.step) ||
                                       (i >= at.step && i < at.n_params) || i >= at.floats;
      check_rejected(bad, covered_by_crc_only ? "CRC mismatch" : "");
    }
}

TEST_CASE("NaN or Inf inside is rejected even with a valid CRC, and never encoded") {
  const TrainingState s = random_state(5, 40, 40);
  const Layout at(s.model.size(), s.optimizer.size());
  struct Case {
    std::size_t offset;
    float value;
    const char* problem;
  };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  for (const Case& c : {Case{at.floats + 4 * 17, nan, "parameter element 17 is NaN"},
                        Case{at.floats, -inf, "parameter element 0 is Inf"},
                        Case{at.floats + 4 * (40 + 39), inf, "optimizer state element 39 is Inf"},
                        Case{at.floats + 4 * 40, std::numeric_limits<float>::signaling_NaN(), "is NaN"}}) {
    CAPTURE(c.problem);
    check_rejected(modified(s, [&](auto& b) { put_le(b, c.offset, c.value); }), c.problem);
  }
  TrainingState bad = s;
  bad.params[3] = nan;
  CHECK_THROWS_AS(bad.encode(), UserError);
  bad = s;
  bad.optimizer_state.back() = inf;
  CHECK_THROWS_AS(bad.encode(), UserError);
}

TEST_CASE("absurd lengths and counts are rejected without allocating for them") {
  const TrainingState s = random_state(6, 8, 8);
  const Layout at(s.model.size(), s.optimizer.size());
  check_rejected(modified(s, [&](auto& b) { put_le(b, at.model_len, std::uint32_t{0xffffffff}); }), "model name length");
  check_rejected(modified(s, [&](auto& b) { put_le(b, at.model_len, std::uint32_t{65}); }), "exceeds the limit");
  check_rejected(modified(s, [&](auto& b) { put_le(b, at.optimizer_len, std::uint32_t{1u << 31}); }),
                 "optimizer name length");
  const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  for (std::uint64_t count : {std::uint64_t{9}, std::uint64_t{1} << 40, std::uint64_t{1} << 61, max, max / 4}) {
    CAPTURE(count);
    check_rejected(modified(s, [&](auto& b) { put_le(b, at.n_params, count); }));
    check_rejected(modified(s, [&](auto& b) { put_le(b, at.n_state, count); }));
  }
  // Counts that overflow when added must not wrap into a plausible size.
  check_rejected(modified(s, [&](auto& b) {
    put_le(b, at.n_params, std::numeric_limits<std::uint64_t>::max() / 8 + 1);
    put_le(b, at.n_state, std::numeric_limits<std::uint64_t>::max() / 8 + 1);
  }));
  // Fewer elements than present: the rest is unexpected.
  check_rejected(modified(s, [&](auto& b) { put_le(b, at.n_state, std::uint64_t{7}); }), "unexpected bytes");
}

TEST_CASE("bad magic, version, names and negative counters are rejected with a valid CRC") {
  const TrainingState s = random_state(8, 4, 4);
  const Layout at(s.model.size(), s.optimizer.size());
  check_rejected(modified(s, [](auto& b) { b[0] = std::byte{'X'}; }), "bad magic");
  check_rejected(modified(s, [](auto& b) { put_le(b, 4, std::uint32_t{3}); }), "version 3");
  check_rejected(modified(s, [](auto& b) { put_le(b, 4, std::uint32_t{0}); }), "version 0");
  check_rejected(modified(s, [&](auto& b) { b[at.model_len + 4] = std::byte{0x07}; }), "model name");
  check_rejected(modified(s, [&](auto& b) { b[at.optimizer_len + 4] = std::byte{0xc3}; }), "optimizer name");
  check_rejected(modified(s, [&](auto& b) { put_le(b, at.step, std::int64_t{-1}); }), "negative");
  check_rejected(modified(s, [&](auto& b) { put_le(b, at.epoch, std::numeric_limits<std::int64_t>::min()); }), "negative");
  // Text that is not a training state at all.
  const std::string text = "this is not a checkpoint, just some text that happens to be here\n";
  check_rejected(std::vector<std::byte>(reinterpret_cast<const std::byte*>(text.data()),
                                        reinterpret_cast<const std::byte*>(text.data() + text.size())),
                 "bad magic");
}

TEST_CASE("encode refuses names the format cannot hold") {
  TrainingState s = random_state(9, 2, 2);
  s.model = std::string(65, 'm');
  CHECK_THROWS_AS(s.encode(), UserError);
  s.model = "m\nlp";
  CHECK_THROWS_AS(s.encode(), UserError);
  s.model = "mlp";
  s.step = -5;
  CHECK_THROWS_AS(s.encode(), UserError);
}
