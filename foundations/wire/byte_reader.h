#pragma once
// ByteReader: reads the fields of a byte encoding one after another, every integer
// little-endian whatever the host's byte order: the counterpart of ByteWriter
// (byte_writer.h), with the same fields. Every chorus codec reads with it.
//
// Error style, the same for every codec: reading never throws and never reads outside the
// input. A read that needs more bytes than remain, or a length over the caller's limit, fails
// the reader. Failure is sticky: that read and every later one return a neutral value (0, an
// empty string, span or vector) and consume nothing. A codec reads its fields, checks ok() --
// or finished(): ok and every byte consumed -- and turns a failure into its own rejection
// (nullopt, an error text, a RejectReason, a UserError); fail() folds a codec's own check of
// a value into that one check. A run (bytes, text, u64s, f32s) is checked against the bytes
// present before anything is allocated for it, so a hostile length costs neither an
// exception nor memory.
//
// A plain value over bytes it does not own (they must outlive it, and the spans bytes()
// returns); no blocking, no shared state; one thread at a time uses a reader.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace chorus::wire {

class ByteReader {
 public:
  enum class Failure : std::uint8_t {
    kNone = 0,
    kTruncated,  // a read needed more bytes than remained
    kOverLimit,  // a length over the limit the caller gave
    kInvalid,    // the caller's own check refused a value (fail())
  };

  explicit ByteReader(std::span<const std::byte> in) : in_(in) {}

  std::uint8_t u8() { return static_cast<std::uint8_t>(little<1>()); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(little<2>()); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(little<4>()); }
  std::uint64_t u64() { return little<8>(); }
  std::int64_t i64() { return static_cast<std::int64_t>(little<8>()); }
  double f64() { return std::bit_cast<double>(little<8>()); }

  // The next n bytes, as a view into the input.
  std::span<const std::byte> bytes(std::size_t n) {
    const std::byte* p = take(n);
    return p ? std::span<const std::byte>(p, n) : std::span<const std::byte>();
  }
  // The next n bytes as characters (their content is the caller's to check).
  std::string text(std::size_t n) {
    const std::byte* p = take(n);
    return p ? std::string(reinterpret_cast<const char*>(p), n) : std::string();
  }
  // A u8 length, then that many characters; a length over max_bytes fails the reader.
  std::string str8(std::size_t max_bytes = 0xff) {
    const std::size_t n = u8();
    if (n > max_bytes && ok()) failure_ = Failure::kOverLimit;
    return text(n);
  }
  // n values of 8 / 4 bytes each.
  std::vector<std::uint64_t> u64s(std::size_t n) {
    const std::byte* p = take_run(n, 8);
    std::vector<std::uint64_t> out(p ? n : 0);
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = load<8>(p + 8 * i);
    return out;
  }
  std::vector<float> f32s(std::size_t n) {
    const std::byte* p = take_run(n, 4);
    std::vector<float> out(p ? n : 0);
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = std::bit_cast<float>(static_cast<std::uint32_t>(load<4>(p + 4 * i)));
    return out;
  }

  // Fails the reader for a reason of the caller's (a wrong version byte, a count over its
  // limit), so that the one ok() check covers it too. Keeps an earlier failure.
  void fail() {
    if (ok()) failure_ = Failure::kInvalid;
  }

  bool ok() const { return failure_ == Failure::kNone; }
  // ok(), and no byte left over.
  bool finished() const { return ok() && pos_ == in_.size(); }
  Failure failure() const { return failure_; }
  // Bytes consumed so far (by the reads before a failure).
  std::size_t position() const { return pos_; }
  // Bytes left to read; 0 once failed.
  std::size_t remaining() const { return ok() ? in_.size() - pos_ : 0; }

 private:
  template <std::size_t Width>
  static std::uint64_t load(const std::byte* p) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < Width; ++i) v |= std::uint64_t{std::to_integer<std::uint8_t>(p[i])} << (8 * i);
    return v;
  }
  template <std::size_t Width>
  std::uint64_t little() {
    const std::byte* p = take(Width);
    return p ? load<Width>(p) : 0;
  }
  // The next n bytes, consumed; nullptr (and the reader failed) when fewer remain.
  const std::byte* take(std::size_t n) {
    if (!ok()) return nullptr;
    if (n > in_.size() - pos_) {
      failure_ = Failure::kTruncated;
      return nullptr;
    }
    const std::byte* p = in_.data() + pos_;
    pos_ += n;
    return p;
  }
  // n values of `width` bytes, checked without overflow before anything is allocated.
  const std::byte* take_run(std::size_t n, std::size_t width) {
    if (ok() && n > (in_.size() - pos_) / width) failure_ = Failure::kTruncated;
    return take(n * width);
  }
  std::span<const std::byte> in_;
  std::size_t pos_ = 0;
  Failure failure_ = Failure::kNone;
};

}  // namespace chorus::wire
