// TrainingState encoding (see training_state.h). Layout, all little-endian:
//   0   4  magic "CHST"
//   4   4  version (2; 1 is read too: it has no shard size)
//   8   4  model name length m (<= kMaxNameBytes), then m printable ASCII bytes
//   .   4  optimizer name length o (<= kMaxNameBytes), then o printable ASCII bytes
//   .   8  step (>= 0)
//   .   8  epoch (>= 0)
//   .   8  data offset
//   .   8  shard size (version 2 only)
//   .   8  parameter count p
//   .   8  optimizer state count s
//   .  4p  parameters (f32)
//   .  4s  optimizer state (f32)
//   .   4  CRC-32 (zlib) of every byte before it
// Decoding checks the fields in that order against the bytes actually present before it
// allocates anything, so no length field can make it allocate more than the input's size.
#include "foundations/train/training_state.h"

#include <fmt/format.h>
#include <zlib.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "foundations/base/error.h"

namespace chorus {

namespace {

constexpr char kMagic[4] = {'C', 'H', 'S', 'T'};
constexpr std::uint32_t kVersion = 2;
constexpr std::uint32_t kOldestVersion = 1;  // without the shard size
constexpr std::size_t kMaxNameBytes = 64;
// magic, version, two name lengths, step, epoch, offset, shard size, two counts (names and
// floats follow).
constexpr std::size_t kFixedBytes = 4 + 4 + 4 + 4 + 8 + 8 + 8 + 8 + 8 + 8;
constexpr std::size_t kCrcBytes = 4;

static_assert(std::endian::native == std::endian::little || std::endian::native == std::endian::big);

template <typename T>
T to_little(T v) {
  if constexpr (std::endian::native == std::endian::big) {
    unsigned char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    for (std::size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(b[i], b[sizeof(T) - 1 - i]);
    std::memcpy(&v, b, sizeof(T));
  }
  return v;
}

std::uint32_t crc_of(std::span<const std::byte> bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  const auto* p = reinterpret_cast<const Bytef*>(bytes.data());
  std::size_t left = bytes.size();
  while (left > 0) {  // zlib takes a uInt length
    const uInt n = static_cast<uInt>(std::min<std::size_t>(left, 1u << 30));
    crc = crc32(crc, p, n);
    p += n;
    left -= n;
  }
  return static_cast<std::uint32_t>(crc);
}

bool printable(const std::string& s) {
  for (char c : s)
    if (c < 0x20 || c > 0x7e) return false;
  return true;
}

class Writer {
 public:
  explicit Writer(std::size_t size) : out_(size) {}
  template <typename T>
  void put(T v) {
    v = to_little(v);
    std::memcpy(out_.data() + pos_, &v, sizeof(T));
    pos_ += sizeof(T);
  }
  void put_name(const std::string& s) {
    put(static_cast<std::uint32_t>(s.size()));
    std::memcpy(out_.data() + pos_, s.data(), s.size());
    pos_ += s.size();
  }
  void put_floats(const std::vector<float>& v) {
    if constexpr (std::endian::native == std::endian::little) {
      if (!v.empty()) std::memcpy(out_.data() + pos_, v.data(), v.size() * sizeof(float));
      pos_ += v.size() * sizeof(float);
    } else {
      for (float f : v) put(f);
    }
  }
  std::size_t pos() const { return pos_; }
  std::vector<std::byte> take() { return std::move(out_); }
  std::span<const std::byte> written() const { return {out_.data(), pos_}; }

 private:
  std::vector<std::byte> out_;
  std::size_t pos_ = 0;
};

// Reads fields from the input; every read is checked against the bytes present.
class Reader {
 public:
  Reader(std::span<const std::byte> in, const std::string& what) : in_(in), what_(what) {}
  template <typename T>
  T get(const char* field) {
    need(sizeof(T), field);
    T v;
    std::memcpy(&v, in_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return to_little(v);
  }
  std::string get_name(const char* field) {
    const std::uint32_t n = get<std::uint32_t>(field);
    if (n > kMaxNameBytes)
      throw UserError(fmt::format("{}: {} length {} exceeds the limit of {} bytes (corrupt or not a training state)",
                                  what_, field, n, kMaxNameBytes));
    need(n, field);
    std::string s(reinterpret_cast<const char*>(in_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  void need(std::size_t n, const char* field) const {
    if (in_.size() - pos_ < n)
      throw UserError(fmt::format("{}: truncated at {} ({} bytes in all)", what_, field, in_.size()));
  }
  std::size_t pos() const { return pos_; }
  std::size_t left() const { return in_.size() - pos_; }

 private:
  std::span<const std::byte> in_;
  const std::string& what_;
  std::size_t pos_ = 0;
};

void check_finite(const std::vector<float>& v, const char* field, const std::string& what) {
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]))
      throw UserError(fmt::format("{}: {} element {} is {}", what, field, i, std::isnan(v[i]) ? "NaN" : "Inf"));
}

std::vector<float> read_floats(std::span<const std::byte> bytes) {
  std::vector<float> v(bytes.size() / sizeof(float));
  if (!v.empty()) std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  if constexpr (std::endian::native == std::endian::big)
    for (float& f : v) f = to_little(f);
  return v;
}

}  // namespace

std::vector<std::byte> TrainingState::encode() const {
  const std::string what = fmt::format("training state of model '{}'", model);
  if (model.size() > kMaxNameBytes || !printable(model))
    throw UserError(fmt::format("{}: the model name must be at most {} printable characters", what, kMaxNameBytes));
  if (optimizer.size() > kMaxNameBytes || !printable(optimizer))
    throw UserError(
        fmt::format("{}: optimizer name '{}' must be at most {} printable characters", what, optimizer, kMaxNameBytes));
  if (step < 0 || epoch < 0)
    throw UserError(fmt::format("{}: step {} and epoch {} must not be negative", what, step, epoch));
  // A state that cannot be decoded must never replace a good checkpoint.
  check_finite(params, "parameter", what);
  check_finite(optimizer_state, "optimizer state", what);

  const std::size_t size = kFixedBytes + model.size() + optimizer.size() +
                           (params.size() + optimizer_state.size()) * sizeof(float) + kCrcBytes;
  Writer w(size);
  for (char c : kMagic) w.put(c);
  w.put(kVersion);
  w.put_name(model);
  w.put_name(optimizer);
  w.put(step);
  w.put(epoch);
  w.put(offset);
  w.put(shard_size);
  w.put(static_cast<std::uint64_t>(params.size()));
  w.put(static_cast<std::uint64_t>(optimizer_state.size()));
  w.put_floats(params);
  w.put_floats(optimizer_state);
  w.put(crc_of(w.written()));
  CHORUS_CHECK(w.pos() == size, "encoded size must match the computed size");
  return w.take();
}

TrainingState TrainingState::decode(std::span<const std::byte> bytes, const std::string& what) {
  Reader r(bytes, what);
  char magic[4];
  for (char& c : magic) c = r.get<char>("magic");
  if (std::memcmp(magic, kMagic, 4) != 0)
    throw UserError(fmt::format("{}: not a chorus training state (bad magic)", what));
  const std::uint32_t version = r.get<std::uint32_t>("version");
  if (version < kOldestVersion || version > kVersion)
    throw UserError(fmt::format("{}: format version {} is not supported (this chorus reads versions {} to {})",
                                what, version, kOldestVersion, kVersion));
  TrainingState s;
  s.model = r.get_name("model name");
  s.optimizer = r.get_name("optimizer name");
  s.step = r.get<std::int64_t>("step");
  s.epoch = r.get<std::int64_t>("epoch");
  s.offset = r.get<std::uint64_t>("data offset");
  if (version >= 2) s.shard_size = r.get<std::uint64_t>("shard size");
  const std::uint64_t n_params = r.get<std::uint64_t>("parameter count");
  const std::uint64_t n_state = r.get<std::uint64_t>("optimizer state count");

  // The counts must describe exactly the bytes present: floats, then the CRC.
  const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() / sizeof(float) / 2;
  if (n_params > limit || n_state > limit)
    throw UserError(fmt::format("{}: element counts {} and {} are absurd (corrupt file)", what, n_params, n_state));
  const std::uint64_t float_bytes = (n_params + n_state) * sizeof(float);
  const std::uint64_t needed = float_bytes + kCrcBytes;
  if (r.left() < needed)
    throw UserError(fmt::format("{}: truncated: {} bytes, but its counts ({} parameters, {} optimizer state) need {}",
                                what, bytes.size(), n_params, n_state, r.pos() + needed));
  if (r.left() > needed)
    throw UserError(fmt::format("{}: {} unexpected bytes after the data (corrupt file)", what, r.left() - needed));

  const std::size_t body = bytes.size() - kCrcBytes;
  std::uint32_t stored;
  std::memcpy(&stored, bytes.data() + body, sizeof stored);
  stored = to_little(stored);
  const std::uint32_t computed = crc_of(bytes.first(body));
  if (stored != computed)
    throw UserError(fmt::format("{}: CRC mismatch (stored {:08x}, computed {:08x}): the data is corrupt", what,
                                stored, computed));

  if (!printable(s.model)) throw UserError(fmt::format("{}: the model name is not printable text", what));
  if (!printable(s.optimizer)) throw UserError(fmt::format("{}: the optimizer name is not printable text", what));
  if (s.step < 0 || s.epoch < 0)
    throw UserError(fmt::format("{}: negative step {} or epoch {}", what, s.step, s.epoch));

  const std::size_t at = r.pos();
  s.params = read_floats(bytes.subspan(at, n_params * sizeof(float)));
  s.optimizer_state = read_floats(bytes.subspan(at + n_params * sizeof(float), n_state * sizeof(float)));
  check_finite(s.params, "parameter", what);
  check_finite(s.optimizer_state, "optimizer state", what);
  return s;
}

}  // namespace chorus
