// ByteWriter and ByteReader: the exact bytes of every field, round trips, sticky failure on
// every truncation, and hostile lengths refused without an exception or an allocation.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "foundations/base/error.h"
#include "foundations/wire/byte_reader.h"
#include "foundations/wire/byte_writer.h"
#include "tests/hex_bytes.h"

using namespace chorus;
using namespace chorus::wire;
using chorus_test::hex_bytes;

namespace {

template <typename Write>
std::vector<std::byte> written(Write write) {
  ByteWriter w;
  write(w);
  return w.take();
}

// One of every field, the message the truncation tests cut short.
std::vector<std::byte> sample() {
  ByteWriter w;
  w.u8(0xab);
  w.u16(0x1234);
  w.u32(0x89abcdef);
  w.u64(0x0102030405060708ull);
  w.i64(-3);
  w.f64(-0.5);
  w.str8("swarm");
  w.u32(2);
  w.u64s(std::vector<std::uint64_t>{7, 8});
  w.f32s(std::vector<float>{1.0f, -0.0f});
  w.text("end");
  return w.take();
}

// Reads sample()'s fields; true when every value came back.
bool read_sample(ByteReader& r) {
  const std::uint8_t a = r.u8();
  const std::uint16_t b = r.u16();
  const std::uint32_t c = r.u32();
  const std::uint64_t d = r.u64();
  const std::int64_t e = r.i64();
  const double f = r.f64();
  const std::string g = r.str8();
  const std::uint32_t n = r.u32();
  const std::vector<std::uint64_t> h = r.u64s(n);
  const std::vector<float> i = r.f32s(2);
  const std::string j = r.text(3);
  return r.finished() && a == 0xab && b == 0x1234 && c == 0x89abcdef && d == 0x0102030405060708ull && e == -3 &&
         f == -0.5 && g == "swarm" && h == std::vector<std::uint64_t>{7, 8} &&
         i == std::vector<float>{1.0f, -0.0f} && std::signbit(i[1]) && j == "end";
}

}  // namespace

TEST_CASE("every integer width is written little-endian, byte by byte") {
  CHECK(written([](ByteWriter& w) { w.u8(0x12); }) == hex_bytes("12"));
  CHECK(written([](ByteWriter& w) { w.u16(0x1234); }) == hex_bytes("3412"));
  CHECK(written([](ByteWriter& w) { w.u32(0x12345678); }) == hex_bytes("78563412"));
  CHECK(written([](ByteWriter& w) { w.u64(0x0102030405060708ull); }) == hex_bytes("0807060504030201"));
  CHECK(written([](ByteWriter& w) { w.i64(-2); }) == hex_bytes("feffffffffffffff"));
  CHECK(written([](ByteWriter& w) { w.i64(std::numeric_limits<std::int64_t>::min()); }) ==
        hex_bytes("0000000000000080"));
  CHECK(written([](ByteWriter& w) { w.f64(1.5); }) == hex_bytes("000000000000f83f"));
  CHECK(written([](ByteWriter& w) { w.f32s(std::vector<float>{1.0f, -2.0f}); }) == hex_bytes("0000803f 000000c0"));
  CHECK(written([](ByteWriter& w) { w.u64s(std::vector<std::uint64_t>{1, 0x0200}); }) ==
        hex_bytes("0100000000000000 0002000000000000"));
  CHECK(written([](ByteWriter& w) { w.str8("ab"); }) == hex_bytes("02 6162"));
  CHECK(written([](ByteWriter& w) { w.str8(""); }) == hex_bytes("00"));
  CHECK(written([](ByteWriter& w) { w.text("ab"); }) == hex_bytes("6162"));
  CHECK(written([](ByteWriter& w) { w.zeros(3); }) == hex_bytes("000000"));
  CHECK(written([](ByteWriter& w) { w.bytes(hex_bytes("c0ffee")); }) == hex_bytes("c0ffee"));

  const std::vector<std::byte> fields = hex_bytes("12 3412 78563412 0807060504030201 feffffffffffffff 000000000000f83f");
  ByteReader r(fields);
  CHECK(r.u8() == 0x12);
  CHECK(r.u16() == 0x1234);
  CHECK(r.u32() == 0x12345678);
  CHECK(r.u64() == 0x0102030405060708ull);
  CHECK(r.i64() == -2);
  CHECK(r.f64() == 1.5);
  CHECK(r.finished());
}

TEST_CASE("every field round-trips, extremes and bit patterns included") {
  const std::vector<std::byte> bytes = sample();
  ByteReader r(bytes);
  CHECK(read_sample(r));

  const double nan_with_payload = std::bit_cast<double>(0x7ff8000000000123ull);
  const float denormal = std::numeric_limits<float>::denorm_min();
  ByteWriter w;
  w.u16(0xffff);
  w.u32(0xffffffff);
  w.u64(~0ull);
  w.i64(std::numeric_limits<std::int64_t>::min());
  w.i64(std::numeric_limits<std::int64_t>::max());
  w.f64(nan_with_payload);
  w.f32s(std::vector<float>{denormal, std::numeric_limits<float>::infinity()});
  w.str8(std::string(255, '~'));
  const std::vector<std::byte> extremes = w.take();
  ByteReader x(extremes);
  CHECK(x.u16() == 0xffff);
  CHECK(x.u32() == 0xffffffff);
  CHECK(x.u64() == ~0ull);
  CHECK(x.i64() == std::numeric_limits<std::int64_t>::min());
  CHECK(x.i64() == std::numeric_limits<std::int64_t>::max());
  CHECK(std::bit_cast<std::uint64_t>(x.f64()) == 0x7ff8000000000123ull);
  const std::vector<float> floats = x.f32s(2);
  REQUIRE(floats.size() == 2);
  CHECK(floats[0] == denormal);
  CHECK(std::isinf(floats[1]));
  CHECK(x.str8() == std::string(255, '~'));
  CHECK(x.finished());
}

TEST_CASE("every truncation fails the reader, and the failure sticks") {
  const std::vector<std::byte> bytes = sample();
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    CAPTURE(n);
    ByteReader r{std::span(bytes).first(n)};
    CHECK_FALSE(read_sample(r));
    CHECK_FALSE(r.ok());
    CHECK_FALSE(r.finished());
    CHECK(r.failure() == ByteReader::Failure::kTruncated);
    CHECK(r.remaining() == 0);
    CHECK(r.position() <= n);
  }
  // A byte left over: every read succeeds, but the message is not finished.
  std::vector<std::byte> longer = bytes;
  longer.push_back(std::byte{0});
  ByteReader r(longer);
  CHECK_FALSE(read_sample(r));
  CHECK(r.ok());
  CHECK(r.remaining() == 1);

  // After a failure, reads that would fit return neutral values and consume nothing.
  const std::vector<std::byte> three = hex_bytes("010203");
  ByteReader s(three);
  CHECK(s.u32() == 0);
  CHECK_FALSE(s.ok());
  CHECK(s.u8() == 0);
  CHECK(s.u16() == 0);
  CHECK(s.bytes(1).empty());
  CHECK(s.text(1).empty());
  CHECK(s.position() == 0);
}

TEST_CASE("the reader never reads past the end of its span") {
  const std::vector<std::byte> buffer = hex_bytes("0102030405 060708090a0b0c0d");
  ByteReader r{std::span(buffer).first(5)};
  CHECK(r.u32() == 0x04030201);
  CHECK(r.u64() == 0);  // the bytes after the span exist, but are not the reader's
  CHECK(r.failure() == ByteReader::Failure::kTruncated);
  CHECK(r.position() == 4);
}

TEST_CASE("hostile lengths fail the reader without an exception or an allocation for them") {
  const std::vector<std::byte> bytes = hex_bytes("0102030405060708 090a0b0c");
  const std::size_t max = std::numeric_limits<std::size_t>::max();
  // Counts whose byte size overflows, or wraps to something small, are refused before
  // anything is allocated (a vector of that many values would throw bad_alloc).
  for (std::size_t n : {max, max / 4 + 2, max / 8 + 2, std::size_t{1} << 61, std::size_t{4}}) {
    CAPTURE(n);
    ByteReader floats(bytes);
    std::vector<float> f;
    CHECK_NOTHROW(f = floats.f32s(n));
    CHECK(f.empty());
    CHECK(floats.failure() == ByteReader::Failure::kTruncated);
    ByteReader words(bytes);
    std::vector<std::uint64_t> u;
    CHECK_NOTHROW(u = words.u64s(n));
    CHECK(u.empty());
    CHECK(words.failure() == ByteReader::Failure::kTruncated);
    if (n > bytes.size()) {
      ByteReader raw(bytes);
      CHECK_NOTHROW(raw.bytes(n));
      CHECK_NOTHROW(raw.text(n));
      CHECK_FALSE(raw.ok());
    }
  }
  // A string length longer than the input, and one over the caller's limit.
  const std::vector<std::byte> too_long = hex_bytes("c8 616263"), five = hex_bytes("05 6162636465"),
                               four = hex_bytes("04 61626364");
  ByteReader longer(too_long);
  CHECK(longer.str8().empty());
  CHECK(longer.failure() == ByteReader::Failure::kTruncated);
  ByteReader over(five);
  CHECK(over.str8(4).empty());
  CHECK(over.failure() == ByteReader::Failure::kOverLimit);
  ByteReader at_limit(four);
  CHECK(at_limit.str8(4) == "abcd");
  CHECK(at_limit.finished());
}

TEST_CASE("a writer over the caller's span fills it in place; misuse is an InvariantError") {
  std::vector<std::byte> out(6, std::byte{0xee});
  ByteWriter w(out);
  w.u16(0x0102);
  w.u32(0x03040506);
  CHECK(w.size() == 6);
  CHECK(out == hex_bytes("0201 06050403"));
  CHECK(std::vector<std::byte>(w.written().begin(), w.written().end()) == out);
  CHECK_THROWS_AS(w.u8(0), InvariantError);
  CHECK_THROWS_AS(w.take(), InvariantError);

  ByteWriter own;
  CHECK_THROWS_AS(own.str8(std::string(256, 'x')), InvariantError);
  own.u8(1);
  CHECK(own.take() == hex_bytes("01"));
  CHECK(own.size() == 0);
}
