#pragma once
// FrameCipher: seals and opens chorus frames with keys derived from the swarm key.
//
// Construction (chosen over ZeroMQ CURVE + ZAP because it protects every frame the same way on
// every transport, the in-process one included, needs no per-connection handshake or key
// lists, and lets large bodies be authenticated in place and encrypted in one pass):
//
//   base key   = crypto_kdf(swarm key, context "chframe1", id 1 for authenticated, 2 for encrypted)
//   sender key = BLAKE2b-256(key = base key, message = sender_id | incarnation | cipher)
//   nonce      = sequence (8 bytes LE) | domain (4 bytes LE) [| 12 zero bytes for XChaCha]
//
// A sender never repeats (sender_id, incarnation, sequence) -- its sequence counter only grows
// within an incarnation, and a new process takes a new incarnation (its start time) -- so a
// (key, nonce) pair is never reused; separate keys per protection level and cipher keep the
// modes apart.
//
//   encrypted:      body' , tag16 = AEAD(key, nonce(seq, 2), message = body, AD = head w/o tag)
//   authenticated:  tag32 = AEAD-MAC(nonce(seq, 0), AD = head w/o tag) |
//                           AEAD-MAC(nonce(seq, 1), AD = body)
//                   (the AEAD with an empty message: GMAC for AES-GCM, Poly1305 for XChaCha).
//                   Two tags because head and body are separate buffers and libsodium's AEADs
//                   take one contiguous AD; both are bound to the same (sender, incarnation,
//                   sequence) through key and nonce, so neither can be moved to another frame.
//
// The AEAD is AES-256-GCM where the CPU has AES-NI (crypto_aead_aes256gcm_is_available), else
// XChaCha20-Poly1305 (libsodium); the cipher travels in the header so a receiver can open
// either (or refuse with "security mismatch" when it cannot run AES-GCM). AES-256-GCM comes
// from aes_gcm.h: by default OpenSSL's EVP implementation, because code that guards every frame
// should come from a maintained, audited library; chorus's own fused VAES code only when the
// build opts in (meson option vaes) and the CPU runs it, for its one advantage of checking a
// parameter body for NaN and infinities in the decryption pass rather than in a second pass.
// Both are standard AES-256-GCM: a frame sealed with one opens with the other.
// Verification uses the AEADs' constant-time tag comparison, and nothing from a body is used
// before it verifies: this is fail-closed.
//
// Threading: all methods are safe to call concurrently (a small mutex guards the key cache).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <unordered_map>

#include "foundations/crypto/aes_gcm.h"
#include "foundations/crypto/swarm_key.h"
#include "foundations/wire/wire.h"

namespace chorus {

class FrameCipher {
 public:
  // AES-256-GCM frames use aes_gcm::configured().
  explicit FrameCipher(const SwarmKey& key);
  // AES-256-GCM frames use `aes`, which must be aes_gcm::available() here (else throws
  // InvariantError): lets tests run every frame test against each implementation this CPU
  // runs, whichever one the build configured.
  FrameCipher(const SwarmKey& key, aes_gcm::Implementation aes);
  ~FrameCipher();
  FrameCipher(const FrameCipher&) = delete;
  FrameCipher& operator=(const FrameCipher&) = delete;

  // AES-256-GCM when this CPU has AES-NI, else XChaCha20-Poly1305.
  static wire::Cipher best_available();
  static bool available(wire::Cipher cipher);

  // The AES-256-GCM implementation this object's AES-256-GCM frames use.
  aes_gcm::Implementation aes_implementation() const { return aes_; }

  // Fills the tag at the end of `head` (whose other bytes are final) and, for kEncrypted,
  // writes the ciphertext of `body` to `body_out` (body.size() bytes; may equal body.data()).
  // `h` must describe the frame (protection, cipher, sender, incarnation, sequence).
  void seal(const wire::Header& h, std::span<std::byte> head, std::span<const std::byte> body,
            std::byte* body_out);

  // Verifies the tag; for kEncrypted also decrypts `body` into `body_out` (may equal
  // body.data()). Returns false when anything fails to verify; `body_out` then holds no
  // plaintext worth reading.
  // With `body_finite_f32` non-null, the pass that authenticates (and decrypts) the body also
  // checks its plaintext as 4-byte floats and stores wire::all_finite_f32's answer there (set
  // only when open returns true), so a parameter body is not read a second time for it.
  bool open(const wire::Header& h, std::span<const std::byte> authenticated_head,
            std::span<const std::byte> tag, std::span<const std::byte> body, std::byte* body_out,
            bool* body_finite_f32 = nullptr);

 private:
  struct SenderKey;
  struct CacheKey {
    std::uint64_t sender, incarnation;
    std::uint8_t protection, cipher;
    bool operator==(const CacheKey&) const = default;
  };
  struct CacheKeyHash {
    std::size_t operator()(const CacheKey& k) const noexcept;
  };
  std::shared_ptr<const SenderKey> lookup(const CacheKey& k);
  std::shared_ptr<const SenderKey> derive(const CacheKey& k) const;
  void remember(const CacheKey& k, std::shared_ptr<const SenderKey> key);

  aes_gcm::Implementation aes_;
  SwarmKey::Bytes base_authenticated_;
  SwarmKey::Bytes base_encrypted_;
  std::mutex mutex_;
  std::unordered_map<CacheKey, std::shared_ptr<const SenderKey>, CacheKeyHash> cache_;
};

}  // namespace chorus
