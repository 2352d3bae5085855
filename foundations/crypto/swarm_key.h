#pragma once
// SwarmKey: the secret every peer of one swarm shares, and the keys derived from it.
//
// `chorus keygen --out swarm.key` writes one (32 random bytes, hex, in a small text file with
// mode 0600). Every peer of the swarm is started with the same file; frames are authenticated
// (and encrypted) with keys derived from it (frame_cipher.h), and the swarm id carried in every
// frame header is derived from it too, so a peer holding another key is told "wrong swarm"
// rather than just "forged".
//
// File format (text):   chorus-swarm-key-v1\n<64 hex digits>\n
// Loading refuses a file that group or others can read (like ssh does with private keys), a
// file with another header, and a key of the wrong length, each with a UserError naming the file.
// Key bytes live in memory locked with sodium_mlock where the system allows and are wiped on
// destruction. Thread-safe for concurrent const use.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace chorus {

class SwarmKey {
 public:
  static constexpr std::size_t kBytes = 32;
  using Bytes = std::array<std::uint8_t, kBytes>;

  static SwarmKey generate();                        // fresh random key
  static SwarmKey from_bytes(const Bytes& bytes);     // for tests and tools
  static SwarmKey load(const std::string& path);      // throws UserError on any problem
  // Writes the key to `path` with mode 0600; refuses to replace an existing file unless
  // `overwrite`. Throws UserError.
  void save(const std::string& path, bool overwrite = false) const;

  // The swarm id carried in every frame (not secret; 64 bits of a one-way derivation).
  std::uint64_t swarm_id() const;
  // A 32-byte subkey for one purpose (`context`: exactly 8 characters, `id`: subkey number),
  // by libsodium's crypto_kdf (BLAKE2b) from the key.
  Bytes derive(const char context[8], std::uint64_t id) const;

  SwarmKey(const SwarmKey&);
  SwarmKey& operator=(const SwarmKey&);
  SwarmKey(SwarmKey&&) noexcept;
  SwarmKey& operator=(SwarmKey&&) noexcept;
  ~SwarmKey();

 private:
  SwarmKey();
  struct Secret;
  std::unique_ptr<Secret> secret_;
};

}  // namespace chorus
