#pragma once
// TrainingStates for the tests: random ones with awkward values, ones derived from a number
// (so a loaded state can be checked element by element), bit-exact comparison, and rewriting
// the CRC of hand-modified encodings.
#include <zlib.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "foundations/train/training_state.h"

namespace ckpt_test {

// Random values plus the ones a careless format loses: -0, denormals, extremes.
inline chorus::TrainingState random_state(std::uint32_t seed, std::size_t n_params, std::size_t n_state,
                                          std::string model = "mlp", std::string optimizer = "adam") {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  chorus::TrainingState s;
  s.model = std::move(model);
  s.optimizer = std::move(optimizer);
  s.step = 1000 + seed;
  s.epoch = 3 + seed % 5;
  s.offset = 12345 + seed;
  s.shard_size = 60000 + seed;
  s.params.resize(n_params);
  s.optimizer_state.resize(n_state);
  for (float& v : s.params) v = normal(rng);
  for (float& v : s.optimizer_state) v = normal(rng) * 1e-3f;
  const float special[] = {-0.0f, std::numeric_limits<float>::denorm_min(), -std::numeric_limits<float>::denorm_min(),
                           std::numeric_limits<float>::max(), std::numeric_limits<float>::lowest(),
                           std::numeric_limits<float>::min()};
  for (std::size_t i = 0; i < std::size(special); ++i) {
    if (i < s.params.size()) s.params[i] = special[i];
    if (i < s.optimizer_state.size()) s.optimizer_state[s.optimizer_state.size() - 1 - i] = special[i];
  }
  return s;
}

inline bool bits_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

inline bool bits_equal(const chorus::TrainingState& a, const chorus::TrainingState& b) {
  return a.model == b.model && a.optimizer == b.optimizer && a.step == b.step && a.epoch == b.epoch &&
         a.offset == b.offset && a.shard_size == b.shard_size && bits_equal(a.params, b.params) && bits_equal(a.optimizer_state, b.optimizer_state);
}

// The state number `i` stands for: every field and element is a function of i, exact in float.
inline chorus::TrainingState derived_state(std::int64_t i, std::size_t n_params, std::size_t n_state) {
  chorus::TrainingState s;
  s.model = "crash-test";
  s.optimizer = "adam";
  s.step = i;
  s.epoch = i / 7;
  s.offset = static_cast<std::uint64_t>(i) * 13;
  s.shard_size = static_cast<std::uint64_t>(i) * 17 + 1;
  s.params.resize(n_params);
  s.optimizer_state.resize(n_state);
  const auto u = static_cast<std::uint64_t>(i);
  for (std::size_t j = 0; j < n_params; ++j) s.params[j] = static_cast<float>((u * 2654435761u + j) & 0xffffff);
  for (std::size_t j = 0; j < n_state; ++j)
    s.optimizer_state[j] = -static_cast<float>(((u + 1) * 40503u + 7 * j) & 0xffffff);
  return s;
}

// Recomputes the trailing CRC-32 after a test modified the bytes before it.
inline void fix_crc(std::vector<std::byte>& bytes) {
  const std::size_t body = bytes.size() - 4;
  const auto crc = static_cast<std::uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(bytes.data()),
                                                    static_cast<uInt>(body)));
  for (int i = 0; i < 4; ++i) bytes[body + i] = static_cast<std::byte>(crc >> (8 * i));
}

// Byte offsets of the fields of an encoding of a state with these names.
struct Layout {
  std::size_t model_len = 8, optimizer_len, step, epoch, offset, shard_size, n_params, n_state, floats;
  Layout(std::size_t model_bytes, std::size_t optimizer_bytes) {
    optimizer_len = model_len + 4 + model_bytes;
    step = optimizer_len + 4 + optimizer_bytes;
    epoch = step + 8;
    offset = epoch + 8;
    shard_size = offset + 8;
    n_params = shard_size + 8;
    n_state = n_params + 8;
    floats = n_state + 8;
  }
};

template <typename T>
void put_le(std::vector<std::byte>& bytes, std::size_t at, T v) {
  std::uint64_t u = 0;
  std::memcpy(&u, &v, sizeof(T));
  for (std::size_t i = 0; i < sizeof(T); ++i) bytes[at + i] = static_cast<std::byte>(u >> (8 * i));
}

}  // namespace ckpt_test
