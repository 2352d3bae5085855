#pragma once
// The tests every AES-256-GCM implementation of aes_gcm::Key must pass, whichever one the build
// configured for frames: it must be standard AES-256-GCM, byte for byte -- the GCM
// specification's AES-256 test vectors, then thousands of random keys, nonces and lengths
// (every message length 0..599, random ones up to 5000, a few MiB) compared with OpenSSL's EVP
// AES-256-GCM and with libsodium's crypto_aead_aes256gcm (two independent references; the
// latter where the CPU has AES-NI), in place and out of place, at odd alignments, never writing
// outside the output. Opening must refuse every single flipped bit of ciphertext, tag,
// associated data and nonce, and leave no plaintext behind. The finite-float check decrypt()
// can run must give wire::all_finite_f32's answer for every position of a NaN or infinity.
//
// Included by exactly one source file per test executable, which defines aes_gcm_under_test();
// every case exits 77 (skipped) where that implementation does not run on this CPU.
#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "foundations/crypto/aes_gcm.h"
#include "foundations/wire/wire.h"
#include "tests/test_util.h"

namespace chorus_test {

// The implementation this executable tests.
chorus::aes_gcm::Implementation aes_gcm_under_test();

}  // namespace chorus_test

namespace aes_gcm_cases {

using namespace chorus::aes_gcm;
using Bytes = std::vector<unsigned char>;

inline Implementation require_under_test() {
  const Implementation impl = chorus_test::aes_gcm_under_test();
  if (!available(impl))
    chorus_test::skip(std::string("this CPU does not run the ") + name(impl) + " AES-256-GCM" +
                      (impl == Implementation::kVaes ? " (it needs VAES, VPCLMULQDQ and AVX-512)" : ""));
  return impl;
}

inline Bytes hex(const std::string& s) {
  Bytes b(s.size() / 2);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<unsigned char>(std::stoi(s.substr(2 * i, 2), nullptr, 16));
  return b;
}

// OpenSSL's AES-256-GCM through its own fresh context: ciphertext followed by the tag.
inline Bytes openssl_seal(const Bytes& key, const Bytes& nonce, const Bytes& ad, const Bytes& plain) {
  Bytes out(plain.size() + 16);
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  REQUIRE(c != nullptr);
  int len = 0;
  bool ok = EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), nullptr, key.data(), nonce.data()) == 1;
  if (!ad.empty()) ok = ok && EVP_EncryptUpdate(c, nullptr, &len, ad.data(), static_cast<int>(ad.size())) == 1;
  if (!plain.empty())
    ok = ok && EVP_EncryptUpdate(c, out.data(), &len, plain.data(), static_cast<int>(plain.size())) == 1;
  unsigned char scratch[16];
  ok = ok && EVP_EncryptFinal_ex(c, scratch, &len) == 1 &&
       EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, out.data() + plain.size()) == 1;
  EVP_CIPHER_CTX_free(c);
  REQUIRE(ok);
  return out;
}

// Whether libsodium's AES-256-GCM runs here (it needs AES-NI and PCLMUL).
inline bool sodium_aes_available() { return sodium_init() >= 0 && crypto_aead_aes256gcm_is_available(); }

// libsodium's AES-256-GCM: ciphertext followed by the tag.
inline Bytes sodium_seal(const Bytes& key, const Bytes& nonce, const Bytes& ad, const Bytes& plain) {
  Bytes out(plain.size() + 16);
  static const unsigned char zero = 0;
  unsigned char dummy = 0;
  unsigned long long tag_len = 0;
  crypto_aead_aes256gcm_encrypt_detached(plain.empty() ? &dummy : out.data(), out.data() + plain.size(), &tag_len,
                                         plain.empty() ? &zero : plain.data(), plain.size(),
                                         ad.empty() ? &zero : ad.data(), ad.size(), nullptr, nonce.data(), key.data());
  return out;
}

// The reference answer, checked to be the same from both references where both run.
inline Bytes reference_seal(const Bytes& key, const Bytes& nonce, const Bytes& ad, const Bytes& plain) {
  Bytes expected = openssl_seal(key, nonce, ad, plain);
  if (sodium_aes_available()) REQUIRE(sodium_seal(key, nonce, ad, plain) == expected);
  return expected;
}

inline Bytes random_bytes(std::mt19937_64& rng, std::size_t n) {
  Bytes b(n);
  for (auto& x : b) x = static_cast<unsigned char>(rng());
  return b;
}

constexpr unsigned char kGuard = 0xa5;
constexpr std::size_t kGuardBytes = 80;

// A buffer with `offset` guard bytes before the data and kGuardBytes after, to catch stray
// writes and to vary alignment.
struct Guarded {
  Bytes storage;
  std::size_t offset;
  Guarded(std::size_t n, std::size_t off) : storage(off + n + kGuardBytes, kGuard), offset(off) {}
  unsigned char* data() { return storage.data() + offset; }
  std::size_t size() const { return storage.size() - offset - kGuardBytes; }
  Bytes contents() const { return Bytes(storage.begin() + offset, storage.end() - kGuardBytes); }
  bool guards_intact() const {
    for (std::size_t i = 0; i < offset; ++i)
      if (storage[i] != kGuard) return false;
    for (std::size_t i = storage.size() - kGuardBytes; i < storage.size(); ++i)
      if (storage[i] != kGuard) return false;
    return true;
  }
};

// Seals `plain` with the implementation under test out of place and in place, opens the result
// both ways, and checks everything against the reference.
inline void check_against_reference(Implementation impl, const Bytes& raw, const Bytes& nonce, const Bytes& ad,
                                    const Bytes& plain, std::size_t in_offset, std::size_t out_offset) {
  const std::size_t n = plain.size();
  const Bytes expected = reference_seal(raw, nonce, ad, plain);
  const Bytes expected_ct(expected.begin(), expected.begin() + static_cast<std::ptrdiff_t>(n));
  const Bytes expected_tag(expected.end() - 16, expected.end());
  const Key key(raw.data(), impl);

  // Seals `plain`, copied into `from`, into `to` (the same buffer in place) and checks the
  // ciphertext, the tag and the guards of `to`.
  const auto seal = [&](Guarded& from, Guarded& to) {
    if (n) std::memcpy(from.data(), plain.data(), n);
    unsigned char tag[16];
    key.encrypt(nonce.data(), ad.data(), ad.size(), from.data(), n, to.data(), tag);
    REQUIRE(to.contents() == expected_ct);
    REQUIRE(Bytes(tag, tag + 16) == expected_tag);
    REQUIRE(to.guards_intact());
  };
  // Opens the ciphertext in `from` into `to` (the same buffer in place) and checks the
  // plaintext and the guards of `to`.
  const auto unseal = [&](Guarded& from, Guarded& to) {
    REQUIRE(key.decrypt(nonce.data(), ad.data(), ad.size(), from.data(), n, to.data(), expected_tag.data()));
    REQUIRE(to.contents() == plain);
    REQUIRE(to.guards_intact());
  };

  // Out of place.
  Guarded in(n, in_offset), out(n, out_offset);
  seal(in, out);
  REQUIRE(in.contents() == plain);

  // In place.
  Guarded both(n, out_offset);
  seal(both, both);

  // Open out of place, then in place.
  Guarded back(n, in_offset);
  unseal(out, back);
  unseal(both, both);
}

struct Vector {
  const char *key, *nonce, *ad, *plain, *cipher, *tag;
};

// The GCM specification's AES-256 test cases 13-16 (McGrew & Viega, "The Galois/Counter Mode
// of Operation", as submitted to NIST).
inline const Vector kSpecVectors[] = {
    {"0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000", "", "", "",
     "530f8afbc74536b9a963b4f1c4cb738b"},
    {"0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000", "",
     "00000000000000000000000000000000", "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    {"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888", "",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    {"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
     "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

// n bytes of finite floats (random mantissa and sign, exponent never all ones).
inline Bytes finite_floats(std::mt19937_64& rng, std::size_t n) {
  Bytes b = random_bytes(rng, n);
  for (std::size_t i = 3; i < n; i += 4) b[i] &= 0xbf;  // clears the exponent's top bit
  return b;
}

inline void put_word(Bytes& b, std::size_t word, std::uint32_t value) { std::memcpy(b.data() + 4 * word, &value, 4); }

inline bool reference_finite(const Bytes& b) { return chorus::wire::all_finite_f32(std::as_bytes(std::span(b))); }

}  // namespace aes_gcm_cases

TEST_CASE("AES-256-GCM reproduces the GCM specification's AES-256 test vectors") {
  using namespace aes_gcm_cases;
  const Implementation impl = require_under_test();
  MESSAGE("AES-256-GCM implementation under test: " << std::string(name(impl)));
  for (const Vector& v : kSpecVectors) {
    const Bytes raw = hex(v.key), nonce = hex(v.nonce), ad = hex(v.ad), plain = hex(v.plain);
    const Bytes cipher = hex(v.cipher), tag = hex(v.tag);
    CAPTURE(v.tag);
    const Key key(raw.data(), impl);
    CHECK(key.implementation() == impl);
    Bytes out(plain.size());
    unsigned char got[16];
    key.encrypt(nonce.data(), ad.data(), ad.size(), plain.data(), plain.size(), out.data(), got);
    CHECK(out == cipher);
    CHECK(Bytes(got, got + 16) == tag);
    Bytes back(plain.size());
    CHECK(key.decrypt(nonce.data(), ad.data(), ad.size(), cipher.data(), cipher.size(), back.data(), tag.data()));
    CHECK(back == plain);
    // The references agree too (they are what the random tests below trust).
    CHECK(reference_seal(raw, nonce, ad, plain) == [&] {
      Bytes ct_tag = cipher;
      ct_tag.insert(ct_tag.end(), tag.begin(), tag.end());
      return ct_tag;
    }());
  }
}

TEST_CASE("AES-256-GCM matches the references for random keys, nonces and lengths") {
  using namespace aes_gcm_cases;
  const Implementation impl = require_under_test();
  std::mt19937_64 rng(0x6763'6d2d'7661'6573ull);
  for (int trial = 0; trial < 4000; ++trial) {
    const std::size_t n = trial < 600 ? static_cast<std::size_t>(trial) : rng() % 5001;
    const std::size_t ad_len = trial % 4 == 0 ? rng() % 700 : rng() % 80;
    const Bytes raw = random_bytes(rng, 32), nonce = random_bytes(rng, 12);
    const Bytes ad = random_bytes(rng, ad_len), plain = random_bytes(rng, n);
    const std::size_t in_offset = rng() % 64, out_offset = rng() % 64;
    CAPTURE(trial);
    CAPTURE(n);
    CAPTURE(ad_len);
    CAPTURE(in_offset);
    CAPTURE(out_offset);
    check_against_reference(impl, raw, nonce, ad, plain, in_offset, out_offset);
  }
}

TEST_CASE("AES-256-GCM matches the references on MiB messages and long associated data") {
  using namespace aes_gcm_cases;
  const Implementation impl = require_under_test();
  std::mt19937_64 rng(77);
  const std::size_t sizes[] = {std::size_t{1} << 20, (std::size_t{3} << 20) + 17, (std::size_t{4} << 20) + 255,
                               (std::size_t{2} << 20) - 1};
  for (std::size_t n : sizes) {
    CAPTURE(n);
    const Bytes raw = random_bytes(rng, 32), nonce = random_bytes(rng, 12);
    const Bytes ad = random_bytes(rng, rng() % 2000), plain = random_bytes(rng, n);
    check_against_reference(impl, raw, nonce, ad, plain, rng() % 64, rng() % 64);
  }
  // GMAC (empty message) over a MiB of associated data, as authenticated-only frames use it.
  const Bytes raw = random_bytes(rng, 32), nonce = random_bytes(rng, 12);
  check_against_reference(impl, raw, nonce, random_bytes(rng, (std::size_t{1} << 20) + 5), {}, 0, 0);
}

TEST_CASE("AES-256-GCM refuses every flipped bit and leaves no plaintext") {
  using namespace aes_gcm_cases;
  const Implementation impl = require_under_test();
  std::mt19937_64 rng(5);
  const std::pair<std::size_t, std::size_t> shapes[] = {{100, 37}, {0, 300}, {300, 0}, {1, 1}};
  for (const auto& shape : shapes) {
    const std::size_t n = shape.first, ad_len = shape.second;
    CAPTURE(n);
    CAPTURE(ad_len);
    const Bytes raw = random_bytes(rng, 32), nonce = random_bytes(rng, 12);
    const Bytes ad = random_bytes(rng, ad_len), plain = random_bytes(rng, n);
    const Key key(raw.data(), impl);
    Bytes ct(n);
    unsigned char tag[16];
    key.encrypt(nonce.data(), ad.data(), ad.size(), plain.data(), n, ct.data(), tag);
    Bytes out(n);
    REQUIRE(key.decrypt(nonce.data(), ad.data(), ad.size(), ct.data(), n, out.data(), tag));
    REQUIRE(out == plain);

    const Bytes zeros(n, 0);
    auto refused = [&](const Bytes& c, const Bytes& a, const Bytes& no, const unsigned char* t) {
      Bytes o(n, 0x5c);
      const bool ok = key.decrypt(no.data(), a.data(), a.size(), c.data(), n, o.data(), t);
      return !ok && o == zeros;
    };
    for (std::size_t bit = 0; bit < 8 * n; ++bit) {
      Bytes c = ct;
      c[bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
      CAPTURE(bit);
      REQUIRE(refused(c, ad, nonce, tag));
    }
    for (std::size_t bit = 0; bit < 8 * ad_len; ++bit) {
      Bytes a = ad;
      a[bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
      CAPTURE(bit);
      REQUIRE(refused(ct, a, nonce, tag));
    }
    for (std::size_t bit = 0; bit < 128; ++bit) {
      unsigned char t[16];
      std::memcpy(t, tag, 16);
      t[bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
      CAPTURE(bit);
      REQUIRE(refused(ct, ad, nonce, t));
    }
    for (std::size_t bit = 0; bit < 96; ++bit) {
      Bytes no = nonce;
      no[bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
      CAPTURE(bit);
      REQUIRE(refused(ct, ad, no, tag));
    }
    // Another key, and a truncated or extended associated data.
    Bytes other_raw = raw;
    other_raw[31] ^= 1;
    const Key other(other_raw.data(), impl);
    Bytes o(n);
    CHECK_FALSE(other.decrypt(nonce.data(), ad.data(), ad.size(), ct.data(), n, o.data(), tag));
    Bytes longer_ad = ad;
    longer_ad.push_back(0);
    CHECK(refused(ct, longer_ad, nonce, tag));
    if (ad_len) CHECK(refused(ct, Bytes(ad.begin(), ad.end() - 1), nonce, tag));
    // In place: a forged frame leaves zeros, not plaintext, in the buffer.
    if (n) {
      Bytes buf = ct;
      buf[0] ^= 0x80;
      CHECK_FALSE(key.decrypt(nonce.data(), ad.data(), ad.size(), buf.data(), n, buf.data(), tag));
      CHECK(buf == zeros);
    }
  }
}

TEST_CASE("AES-256-GCM decryption checks the plaintext for NaN and infinities when asked") {
  using namespace aes_gcm_cases;
  const Implementation impl = require_under_test();
  std::mt19937_64 rng(21);
  const std::uint32_t bad_words[] = {0x7f800000u, 0xff800000u, 0x7fc00000u, 0xffffffffu, 0x7f800001u};
  for (std::size_t n : {std::size_t{0}, std::size_t{4}, std::size_t{60}, std::size_t{64}, std::size_t{252},
                        std::size_t{256}, std::size_t{260}, std::size_t{1000}, std::size_t{4099}, std::size_t{65536},
                        std::size_t{1} << 20}) {
    CAPTURE(n);
    const Bytes raw = random_bytes(rng, 32), nonce = random_bytes(rng, 12), ad = random_bytes(rng, 48);
    const Key key(raw.data(), impl);
    // Every word position for short messages, a spread of them (first, last, block edges) else.
    std::vector<std::size_t> positions;
    const std::size_t words = n / 4;
    if (words <= 300) {
      for (std::size_t w = 0; w < words; ++w) positions.push_back(w);
    } else {
      for (std::size_t w : {std::size_t{0}, std::size_t{15}, std::size_t{16}, std::size_t{63}, std::size_t{64},
                            words / 2, words - 17, words - 16, words - 1})
        positions.push_back(w);
    }
    positions.push_back(words);  // none planted
    for (std::size_t pos : positions) {
      CAPTURE(pos);
      Bytes plain = finite_floats(rng, n);
      if (pos < words) put_word(plain, pos, bad_words[pos % 5]);
      // The bytes past the last whole word never count, whatever they hold.
      for (std::size_t i = 4 * words; i < n; ++i) plain[i] = 0xff;
      const bool expected = reference_finite(plain);
      CHECK(expected == (pos >= words));
      Bytes sealed(n + 16);
      key.encrypt(nonce.data(), ad.data(), ad.size(), plain.data(), n, sealed.data(), sealed.data() + n);
      Bytes back(n);
      bool finite = !expected;
      REQUIRE(key.decrypt(nonce.data(), ad.data(), ad.size(), sealed.data(), n, back.data(), sealed.data() + n,
                          &finite));
      CHECK(back == plain);
      CHECK(finite == expected);
      // A GMAC (no plaintext) checks its associated data instead.
      unsigned char tag[16];
      key.encrypt(nonce.data(), plain.data(), n, nullptr, 0, nullptr, tag);
      finite = !expected;
      REQUIRE(key.decrypt(nonce.data(), plain.data(), n, nullptr, 0, nullptr, tag, &finite));
      CHECK(finite == expected);
    }
  }
}
