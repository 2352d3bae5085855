#pragma once
// ByteWriter: writes the fields of a byte encoding one after another, every integer
// little-endian whatever the host's byte order. Every chorus codec writes with it (the frame
// head, membership, the collective, letters, state transfer, the training state); ByteReader
// (byte_reader.h) reads what it writes.
//
// It writes either into a buffer of its own, which take() hands over, or into a span the
// caller owns (a frame head inside its message buffer, a nonce), without a copy.
//
// Fields: u8/u16/u32/u64; i64 as two's complement in a u64; f64 and f32 by their IEEE-754 bit
// pattern; text (the characters alone) and str8 (a u8 length, then the characters); raw byte
// runs, runs of zeros, runs of u64 and f32 values.
//
// Errors: only programming errors throw, InvariantError: a str8 longer than 255 bytes,
// writing past the end of the caller's span, take() on a writer over a caller's span.
//
// A plain value: no blocking, no shared state; one thread at a time uses a writer.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "foundations/base/error.h"

namespace chorus::wire {

class ByteWriter {
 public:
  // Writes into a buffer of its own, growing as needed.
  ByteWriter() = default;
  // Writes into `out`, from its first byte; the caller checks size() against out.size().
  explicit ByteWriter(std::span<std::byte> out) : fixed_(out), over_span_(true) {}

  // A hint for a writer with its own buffer: room for `bytes` in all.
  void reserve(std::size_t bytes) {
    if (!over_span_) own_.reserve(bytes);
  }

  void u8(std::uint8_t v) { little<1>(v); }
  void u16(std::uint16_t v) { little<2>(v); }
  void u32(std::uint32_t v) { little<4>(v); }
  void u64(std::uint64_t v) { little<8>(v); }
  void i64(std::int64_t v) { little<8>(static_cast<std::uint64_t>(v)); }
  void f64(double v) { little<8>(std::bit_cast<std::uint64_t>(v)); }

  void bytes(std::span<const std::byte> run) {
    if (!run.empty()) std::memcpy(room(run.size()), run.data(), run.size());
  }
  void text(std::string_view s) { bytes(std::as_bytes(std::span<const char>(s.data(), s.size()))); }
  void str8(std::string_view s) {
    CHORUS_CHECK(s.size() <= 0xff, "a str8 holds at most 255 bytes");
    u8(static_cast<std::uint8_t>(s.size()));
    text(s);
  }
  void zeros(std::size_t n) {
    if (n > 0) std::memset(room(n), 0, n);
  }
  void u64s(std::span<const std::uint64_t> values) {
    std::byte* p = room(values.size() * 8);
    for (std::uint64_t v : values) p = store<8>(p, v);
  }
  void f32s(std::span<const float> values) {
    std::byte* p = room(values.size() * 4);
    for (float v : values) p = store<4>(p, std::bit_cast<std::uint32_t>(v));
  }

  std::size_t size() const { return size_; }
  std::span<const std::byte> written() const {
    return over_span_ ? std::span<const std::byte>(fixed_.first(size_)) : std::span<const std::byte>(own_);
  }
  // The bytes written, handed over; the writer is empty afterwards.
  std::vector<std::byte> take() {
    CHORUS_CHECK(!over_span_, "take() is for a writer with a buffer of its own");
    size_ = 0;
    return std::move(own_);
  }

 private:
  template <std::size_t Width>
  static std::byte* store(std::byte* p, std::uint64_t v) {
    for (std::size_t i = 0; i < Width; ++i) p[i] = static_cast<std::byte>(static_cast<std::uint8_t>(v >> (8 * i)));
    return p + Width;
  }
  template <std::size_t Width>
  void little(std::uint64_t v) {
    store<Width>(room(Width), v);
  }
  // The next n bytes to write.
  std::byte* room(std::size_t n) {
    std::byte* p;
    if (over_span_) {
      CHORUS_CHECK(n <= fixed_.size() - size_, "write past the end of the caller's span");
      p = fixed_.data() + size_;
    } else {
      own_.resize(size_ + n);
      p = own_.data() + size_;
    }
    size_ += n;
    return p;
  }

  std::vector<std::byte> own_;
  std::span<std::byte> fixed_;
  bool over_span_ = false;
  std::size_t size_ = 0;
};

}  // namespace chorus::wire
