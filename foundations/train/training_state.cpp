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

#include <cmath>
#include <cstring>
#include <limits>

#include "foundations/base/error.h"
#include "foundations/wire/byte_reader.h"
#include "foundations/wire/byte_writer.h"

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

void check_finite(const std::vector<float>& v, const char* field, const std::string& what) {
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]))
      throw UserError(fmt::format("{}: {} element {} is {}", what, field, i, std::isnan(v[i]) ? "NaN" : "Inf"));
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
  wire::ByteWriter w;
  w.reserve(size);
  w.text(std::string_view(kMagic, sizeof kMagic));
  w.u32(kVersion);
  for (const std::string* name : {&model, &optimizer}) {
    w.u32(static_cast<std::uint32_t>(name->size()));
    w.text(*name);
  }
  w.i64(step);
  w.i64(epoch);
  w.u64(offset);
  w.u64(shard_size);
  w.u64(params.size());
  w.u64(optimizer_state.size());
  w.f32s(params);
  w.f32s(optimizer_state);
  w.u32(crc_of(w.written()));
  CHORUS_CHECK(w.size() == size, "encoded size must match the computed size");
  return w.take();
}

TrainingState TrainingState::decode(std::span<const std::byte> bytes, const std::string& what) {
  wire::ByteReader r(bytes);
  // Each read is checked at once, so that the error names the field the bytes end in.
  const auto checked = [&](auto value, const char* field) {
    if (!r.ok()) throw UserError(fmt::format("{}: truncated at {} ({} bytes in all)", what, field, bytes.size()));
    return value;
  };
  const auto name = [&](const char* field) {
    const std::uint32_t n = checked(r.u32(), field);
    if (n > kMaxNameBytes)
      throw UserError(fmt::format("{}: {} length {} exceeds the limit of {} bytes (corrupt or not a training state)",
                                  what, field, n, kMaxNameBytes));
    return checked(r.text(n), field);
  };
  const std::span<const std::byte> magic = checked(r.bytes(sizeof kMagic), "magic");
  if (std::memcmp(magic.data(), kMagic, sizeof kMagic) != 0)
    throw UserError(fmt::format("{}: not a chorus training state (bad magic)", what));
  const std::uint32_t version = checked(r.u32(), "version");
  if (version < kOldestVersion || version > kVersion)
    throw UserError(fmt::format("{}: format version {} is not supported (this chorus reads versions {} to {})",
                                what, version, kOldestVersion, kVersion));
  TrainingState s;
  s.model = name("model name");
  s.optimizer = name("optimizer name");
  s.step = checked(r.i64(), "step");
  s.epoch = checked(r.i64(), "epoch");
  s.offset = checked(r.u64(), "data offset");
  if (version >= 2) s.shard_size = checked(r.u64(), "shard size");
  const std::uint64_t n_params = checked(r.u64(), "parameter count");
  const std::uint64_t n_state = checked(r.u64(), "optimizer state count");

  // The counts must describe exactly the bytes present: floats, then the CRC.
  const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() / sizeof(float) / 2;
  if (n_params > limit || n_state > limit)
    throw UserError(fmt::format("{}: element counts {} and {} are absurd (corrupt file)", what, n_params, n_state));
  const std::uint64_t float_bytes = (n_params + n_state) * sizeof(float);
  const std::uint64_t needed = float_bytes + kCrcBytes;
  if (r.remaining() < needed)
    throw UserError(fmt::format("{}: truncated: {} bytes, but its counts ({} parameters, {} optimizer state) need {}",
                                what, bytes.size(), n_params, n_state, r.position() + needed));
  if (r.remaining() > needed)
    throw UserError(fmt::format("{}: {} unexpected bytes after the data (corrupt file)", what, r.remaining() - needed));

  s.params = r.f32s(n_params);
  s.optimizer_state = r.f32s(n_state);
  const std::size_t body = r.position();
  const std::uint32_t stored = r.u32();
  CHORUS_CHECK(r.finished(), "the counts were checked against the bytes present");
  const std::uint32_t computed = crc_of(bytes.first(body));
  if (stored != computed)
    throw UserError(fmt::format("{}: CRC mismatch (stored {:08x}, computed {:08x}): the data is corrupt", what,
                                stored, computed));

  if (!printable(s.model)) throw UserError(fmt::format("{}: the model name is not printable text", what));
  if (!printable(s.optimizer)) throw UserError(fmt::format("{}: the optimizer name is not printable text", what));
  if (s.step < 0 || s.epoch < 0)
    throw UserError(fmt::format("{}: negative step {} or epoch {}", what, s.step, s.epoch));
  check_finite(s.params, "parameter", what);
  check_finite(s.optimizer_state, "optimizer state", what);
  return s;
}

}  // namespace chorus
