// Frame sealing: every protection and cipher opens what it sealed, and nothing else -- no
// flipped bit anywhere, no other key, no other sender, incarnation or sequence number. Opening
// can check a parameter body for NaN and infinities in the same pass, for every protection and
// cipher, with wire::all_finite_f32's answer. AES-256-GCM runs every test once per
// implementation this CPU runs (OpenSSL's, and the VAES code where the CPU has it), whichever
// one the build configured, and frames sealed with one open with the other.
#include <doctest/doctest.h>
#include <sodium.h>

#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "chorus_config.h"
#include "foundations/crypto/aes_gcm.h"
#include "foundations/crypto/frame_cipher.h"
#include "foundations/crypto/swarm_key.h"
#include "foundations/wire/wire.h"
#include "tests/hex_bytes.h"

using namespace chorus;
using namespace chorus::wire;

namespace {

SwarmKey key_of(std::uint8_t b) {
  SwarmKey::Bytes bytes;
  bytes.fill(b);
  return SwarmKey::from_bytes(bytes);
}

struct Sealed {
  Header h;
  std::vector<std::byte> head, body, plain;
};

// A frame of `plain` sealed with protection p and `cipher`.
Sealed seal_body(FrameCipher& c, Protection p, Cipher cipher, std::vector<std::byte> plain, std::uint64_t seq) {
  Sealed s;
  s.h.type = 5;
  s.h.swarm_id = 1;
  s.h.sender_id = 42;
  s.h.incarnation = 1000;
  s.h.sequence = seq;
  s.h.payload_bytes = plain.size();
  s.h.protection = p;
  s.h.cipher = cipher;
  const std::string addr = "tcp://127.0.0.1:1";
  s.head.resize(head_bytes(PayloadKind::kBytes, p, addr.size()));
  encode_head(s.h, addr, nullptr, s.head);
  s.plain = std::move(plain);
  s.body = s.plain;
  c.seal(s.h, s.head, s.plain, p == Protection::kEncrypted ? s.body.data() : nullptr);
  return s;
}

// A frame of body_bytes patterned bytes.
Sealed seal(FrameCipher& c, Protection p, Cipher cipher, std::size_t body_bytes, std::uint64_t seq = 9) {
  std::vector<std::byte> plain(body_bytes);
  for (std::size_t i = 0; i < body_bytes; ++i) plain[i] = static_cast<std::byte>(i * 7 + 1);
  return seal_body(c, p, cipher, std::move(plain), seq);
}

bool open(FrameCipher& c, const Sealed& s, std::vector<std::byte>* out = nullptr) {
  const std::size_t tag = tag_bytes(s.h.protection);
  const std::span<const std::byte> head(s.head);
  std::vector<std::byte> buf = s.body;
  const bool ok = c.open(s.h, head.first(head.size() - tag), head.last(tag), s.body,
                         s.h.protection == Protection::kEncrypted ? buf.data() : nullptr);
  if (out) *out = buf;
  return ok;
}

// A cipher, and for AES-256-GCM the implementation that runs it.
struct Variant {
  Cipher cipher;
  aes_gcm::Implementation aes;
  std::string name() const {
    return cipher == Cipher::kAes256Gcm ? std::string(cipher_name(cipher)) + " (" + aes_gcm::name(aes) + ")"
                                        : std::string(cipher_name(cipher));
  }
  // A FrameCipher of the swarm key key_of(key_byte) whose AES-256-GCM frames use `aes`.
  std::unique_ptr<FrameCipher> make(std::uint8_t key_byte) const {
    return cipher == Cipher::kAes256Gcm ? std::make_unique<FrameCipher>(key_of(key_byte), aes)
                                        : std::make_unique<FrameCipher>(key_of(key_byte));
  }
};

std::vector<Variant> variants() {
  std::vector<Variant> v{{Cipher::kXChaCha20Poly1305, aes_gcm::configured()}};
  for (auto impl : {aes_gcm::Implementation::kOpenSsl, aes_gcm::Implementation::kVaes})
    if (aes_gcm::available(impl)) v.push_back({Cipher::kAes256Gcm, impl});
  return v;
}

}  // namespace

TEST_CASE("sealed frames open, and encryption hides the body") {
  for (const Variant& v : variants()) {
    auto c = v.make(1);
    const Cipher cipher = v.cipher;
    for (Protection p : {Protection::kAuthenticated, Protection::kEncrypted})
      for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{17}, std::size_t{4096}, std::size_t{100003}}) {
        CAPTURE(v.name());
        CAPTURE(protection_name(p));
        CAPTURE(n);
        Sealed s = seal(*c, p, cipher, n);
        if (p == Protection::kEncrypted && n >= 16) CHECK(s.body != s.plain);
        if (p == Protection::kAuthenticated) CHECK(s.body == s.plain);
        std::vector<std::byte> out;
        CHECK(open(*c, s, &out));
        CHECK(out == s.plain);
        // A second cipher object from the same key (another peer) opens it too.
        auto other = v.make(1);
        CHECK(open(*other, s));
      }
  }
}

TEST_CASE("any flipped bit in head, tag or body fails to open") {
  for (const Variant& v : variants())
    for (Protection p : {Protection::kAuthenticated, Protection::kEncrypted}) {
      CAPTURE(v.name());
      CAPTURE(protection_name(p));
      auto owned = v.make(2);
      FrameCipher& c = *owned;
      const Cipher cipher = v.cipher;
      const Sealed s = seal(c, p, cipher, 40);
      for (std::size_t i = 0; i < s.head.size(); ++i) {
        Sealed t = s;
        t.head[i] ^= std::byte{0x01};
        CHECK_FALSE(open(c, t));
      }
      for (std::size_t i = 0; i < s.body.size(); ++i) {
        Sealed t = s;
        t.body[i] ^= std::byte{0x80};
        CHECK_FALSE(open(c, t));
      }
      Sealed shorter = s;
      shorter.body.pop_back();
      CHECK_FALSE(open(c, shorter));
    }
}

TEST_CASE("frames do not open under another key, sender, incarnation or sequence") {
  for (const Variant& v : variants())
    for (Protection p : {Protection::kAuthenticated, Protection::kEncrypted}) {
      CAPTURE(v.name());
      CAPTURE(protection_name(p));
      auto owned = v.make(3), stranger_owned = v.make(4);
      FrameCipher &c = *owned, &stranger = *stranger_owned;
      const Cipher cipher = v.cipher;
      const Sealed s = seal(c, p, cipher, 64);
      CHECK_FALSE(open(stranger, s));
      for (int field = 0; field < 4; ++field) {
        Sealed t = s;
        if (field == 0) t.h.sender_id ^= 1;
        if (field == 1) t.h.incarnation ^= 1;
        if (field == 2) t.h.sequence ^= 1;
        if (field == 3) t.h.cipher = cipher == Cipher::kAes256Gcm ? Cipher::kXChaCha20Poly1305 : Cipher::kAes256Gcm;
        if (field == 3 && !FrameCipher::available(t.h.cipher)) continue;
        CHECK_FALSE(open(c, t));
      }
      // Authenticated-only and encrypted frames use different keys: relabelling fails.
      Sealed t = s;
      t.h.protection = p == Protection::kEncrypted ? Protection::kAuthenticated : Protection::kEncrypted;
      CHECK_FALSE(open(c, t));
    }
}

TEST_CASE("the two bodies of authenticated frames cannot be swapped") {
  for (const Variant& v : variants()) {
    CAPTURE(v.name());
    auto owned = v.make(5);
    FrameCipher& c = *owned;
    const Cipher cipher = v.cipher;
    Sealed a = seal(c, Protection::kAuthenticated, cipher, 32, 100);
    Sealed b = seal(c, Protection::kAuthenticated, cipher, 32, 101);
    for (auto& x : b.body) x ^= std::byte{0x55};
    c.seal(b.h, b.head, b.body, nullptr);  // b re-sealed over its new body
    CHECK(open(c, a));
    CHECK(open(c, b));
    std::swap(a.body, b.body);
    CHECK_FALSE(open(c, a));
    CHECK_FALSE(open(c, b));
  }
}

TEST_CASE("every AES-256-GCM implementation here agrees with libsodium's") {
  if (sodium_init() < 0 || !crypto_aead_aes256gcm_is_available()) return;
  MESSAGE("AES-256-GCM implementation configured for frames: " << std::string(aes_gcm::implementation()));
  unsigned char key[32], nonce[12];
  for (int i = 0; i < 32; ++i) key[i] = static_cast<unsigned char>(i * 3 + 1);
  for (int i = 0; i < 12; ++i) nonce[i] = static_cast<unsigned char>(200 - i);
  for (const Variant& v : variants()) {
    if (v.cipher != Cipher::kAes256Gcm) continue;
    const aes_gcm::Key k(key, v.aes);
    for (std::size_t n : {std::size_t{0}, std::size_t{15}, std::size_t{16}, std::size_t{1000}, std::size_t{65537}}) {
      CAPTURE(v.name());
      CAPTURE(n);
      std::vector<unsigned char> in(n), ad(n / 3 + 5), ours(n + 1), theirs(n + 1);
      for (std::size_t i = 0; i < n; ++i) in[i] = static_cast<unsigned char>(i ^ (i >> 8));
      for (std::size_t i = 0; i < ad.size(); ++i) ad[i] = static_cast<unsigned char>(i * 13);
      unsigned char tag_ours[16], tag_theirs[16];
      unsigned long long tag_len = 0;
      k.encrypt(nonce, ad.data(), ad.size(), in.data(), n, ours.data(), tag_ours);
      crypto_aead_aes256gcm_encrypt_detached(theirs.data(), tag_theirs, &tag_len, in.data(), n, ad.data(), ad.size(),
                                             nullptr, nonce, key);
      CHECK(std::memcmp(ours.data(), theirs.data(), n) == 0);
      CHECK(std::memcmp(tag_ours, tag_theirs, 16) == 0);
      std::vector<unsigned char> back(n + 1);
      CHECK(k.decrypt(nonce, ad.data(), ad.size(), ours.data(), n, back.data(), tag_ours));
      CHECK(std::memcmp(back.data(), in.data(), n) == 0);
      tag_ours[0] ^= 1;
      CHECK_FALSE(k.decrypt(nonce, ad.data(), ad.size(), ours.data(), n, back.data(), tag_ours));
    }
  }
}

TEST_CASE("opening checks the body for NaN and infinities when asked, with every protection and cipher") {
  for (const Variant& v : variants()) {
    auto owned = v.make(6);
    FrameCipher& c = *owned;
    const Cipher cipher = v.cipher;
    for (Protection p : {Protection::kAuthenticated, Protection::kEncrypted})
      for (std::size_t n : {std::size_t{0}, std::size_t{8}, std::size_t{1024}, std::size_t{262148}})
        for (std::size_t bad : {std::size_t{0}, n / 8, n / 4 - 1, n / 4}) {  // n / 4: nothing planted
          CAPTURE(v.name());
          CAPTURE(protection_name(p));
          CAPTURE(n);
          CAPTURE(bad);
          if (n == 0 && bad != 0) continue;
          std::vector<float> values(n / 4);
          for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) * 0.5f - 3.0f;
          if (bad < values.size()) values[bad] = (bad % 2) ? std::numeric_limits<float>::infinity()
                                                           : std::numeric_limits<float>::quiet_NaN();
          std::vector<std::byte> plain(n);
          if (n) std::memcpy(plain.data(), values.data(), n);
          const Sealed s = seal_body(c, p, cipher, std::move(plain), 77 + bad);
          const bool expected = all_finite_f32(s.plain);
          CHECK(expected == (bad >= values.size()));
          const std::size_t tag = tag_bytes(p);
          const std::span<const std::byte> head(s.head);
          std::vector<std::byte> buf = s.body;
          bool finite = !expected;
          REQUIRE(c.open(s.h, head.first(head.size() - tag), head.last(tag), s.body,
                         p == Protection::kEncrypted ? buf.data() : nullptr, &finite));
          CHECK(finite == expected);
          if (p == Protection::kEncrypted) CHECK(buf == s.plain);
        }
  }
}

TEST_CASE("frames use the AES-256-GCM implementation the build configured") {
  const auto expected = CHORUS_AES_GCM_VAES && aes_gcm::available(aes_gcm::Implementation::kVaes)
                            ? aes_gcm::Implementation::kVaes
                            : aes_gcm::Implementation::kOpenSsl;
  CHECK(aes_gcm::configured() == expected);
  CHECK(std::string(aes_gcm::implementation()) == aes_gcm::name(expected));
  CHECK(std::string(aes_gcm::implementation()) == (expected == aes_gcm::Implementation::kVaes ? "vaes" : "openssl"));
  CHECK(FrameCipher(key_of(7)).aes_implementation() == expected);
  unsigned char raw[32] = {};
  CHECK(aes_gcm::Key(raw).implementation() == expected);
  // OpenSSL runs wherever chorus builds; asking for an implementation this CPU lacks is refused.
  CHECK(aes_gcm::available(aes_gcm::Implementation::kOpenSsl));
  if (!aes_gcm::available(aes_gcm::Implementation::kVaes)) {
    CHECK_THROWS(aes_gcm::Key(raw, aes_gcm::Implementation::kVaes));
    CHECK_THROWS(FrameCipher(key_of(7), aes_gcm::Implementation::kVaes));
  }
}

TEST_CASE("frames sealed with one AES-256-GCM implementation open with every other") {
  std::vector<Variant> aes;
  for (const Variant& v : variants())
    if (v.cipher == Cipher::kAes256Gcm) aes.push_back(v);
  for (const Variant& from : aes)
    for (const Variant& to : aes)
      for (Protection p : {Protection::kAuthenticated, Protection::kEncrypted})
        for (std::size_t n : {std::size_t{0}, std::size_t{33}, std::size_t{65536}}) {
          CAPTURE(from.name());
          CAPTURE(to.name());
          CAPTURE(protection_name(p));
          CAPTURE(n);
          auto sealer = from.make(8), opener = to.make(8);
          const Sealed s = seal(*sealer, p, Cipher::kAes256Gcm, n);
          std::vector<std::byte> out;
          CHECK(open(*opener, s, &out));
          CHECK(out == s.plain);
          Sealed t = s;
          t.head[t.head.size() - 1] ^= std::byte{0x01};
          CHECK_FALSE(open(*opener, t));
        }
}

TEST_CASE("known answers: the swarm id, the per-sender key and the nonce are laid out the same in every version") {
  // A fixed key, sender, incarnation, sequence and body give fixed tags and ciphertext. Peers of
  // different versions open each other's frames only while these stay as they are.
  CHECK(key_of(7).swarm_id() == 0x83bc2e56472e8648ull);
  FrameCipher c(key_of(7));
  const std::vector<std::byte> plain = chorus_test::hex_bytes("0102030405060708");
  struct Known {
    Cipher cipher;
    Protection protection;
    const char* tag;
    const char* body;
  };
  const Known known[] = {
      {Cipher::kXChaCha20Poly1305, Protection::kAuthenticated,
       "371a64684bdc389dee1b7db5c765fb05e56398afc2febb0fe3c03e65b141b410", "0102030405060708"},
      {Cipher::kXChaCha20Poly1305, Protection::kEncrypted, "82fed8811227bd50de661cff6c77a551", "1cb8d7d0bd0f4f03"},
      {Cipher::kAes256Gcm, Protection::kAuthenticated,
       "4be4b1d416d7f1cef43bd1021028dc7748d8ec6a03a675e899edf660be233761", "0102030405060708"},
      {Cipher::kAes256Gcm, Protection::kEncrypted, "d4cedb41d18bf936dc6f70737af28a99", "315c6df375599091"},
  };
  for (const Known& k : known) {
    if (!FrameCipher::available(k.cipher)) continue;
    CAPTURE(cipher_name(k.cipher));
    CAPTURE(protection_name(k.protection));
    const Sealed s = seal_body(c, k.protection, k.cipher, plain, 5);
    const std::span<const std::byte> tag = std::span(s.head).last(tag_bytes(k.protection));
    CHECK(std::vector<std::byte>(tag.begin(), tag.end()) == chorus_test::hex_bytes(k.tag));
    CHECK(s.body == chorus_test::hex_bytes(k.body));
  }
}
