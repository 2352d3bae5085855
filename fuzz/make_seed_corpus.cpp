// Writes the seed corpus for the frame decoder fuzz target into a directory:
//   make_seed_corpus fuzz/corpus
// Files named valid-* must be accepted by open_fuzz_input, files named bad-<reason>-* refused
// for that reason (tests/wire/test_fuzz_corpus.cpp checks both).
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "foundations/crypto/frame_cipher.h"
#include "foundations/crypto/swarm_key.h"
#include "foundations/wire/wire.h"
#include "fuzz/frame_decoder_target.h"

using namespace chorus;

namespace {

struct Seed {
  std::string name;
  int mode;
  std::vector<std::byte> head, body;
};

std::vector<std::byte> floats_body(std::vector<float> v) {
  std::vector<std::byte> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// Builds a frame; `protection` decides sealing with the fuzz key.
Seed make(std::string name, int mode, wire::Protection protection, wire::PayloadKind kind,
          std::vector<std::byte> body, std::uint64_t seq = 1) {
  SwarmKey::Bytes kb;
  kb.fill(fuzz::kKeyByte);
  const SwarmKey key = SwarmKey::from_bytes(kb);
  wire::Header h;
  h.type = 0x0101;
  h.swarm_id = mode == 0 ? 0 : key.swarm_id();
  h.sender_id = 7;
  h.incarnation = 3;
  h.sequence = seq;
  h.timestamp_us = fuzz::kNowUs;
  h.payload_bytes = body.size();
  h.kind = kind;
  h.protection = protection;
  h.cipher = protection == wire::Protection::kNone ? wire::Cipher::kNone : wire::Cipher::kXChaCha20Poly1305;
  const std::string address = "tcp://127.0.0.1:5555";
  wire::ParamHeader p;
  if (kind == wire::PayloadKind::kParams) {
    p.count = static_cast<std::uint32_t>(body.size() / 4);
    p.total_elements = p.count + 8;
    p.offset = 8;
    p.step = 42;
  }
  Seed s{std::move(name), mode, std::vector<std::byte>(wire::head_bytes(kind, protection, address.size())), body};
  wire::encode_head(h, address, kind == wire::PayloadKind::kParams ? &p : nullptr, s.head);
  if (protection != wire::Protection::kNone) {
    FrameCipher cipher(key);
    cipher.seal(h, s.head, body, s.body.data());
  }
  return s;
}

void write(const std::string& dir, const Seed& s) {
  std::ofstream out(dir + "/" + s.name, std::ios::binary);
  const unsigned char prefix[3] = {static_cast<unsigned char>(s.mode), static_cast<unsigned char>(s.head.size() & 0xff),
                                   static_cast<unsigned char>(s.head.size() >> 8)};
  out.write(reinterpret_cast<const char*>(prefix), 3);
  out.write(reinterpret_cast<const char*>(s.head.data()), static_cast<std::streamsize>(s.head.size()));
  out.write(reinterpret_cast<const char*>(s.body.data()), static_cast<std::streamsize>(s.body.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seed_corpus DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  using P = wire::Protection;
  using K = wire::PayloadKind;
  const auto text = [](const char* s) {
    std::vector<std::byte> b(std::strlen(s));
    std::memcpy(b.data(), s, b.size());
    return b;
  };
  std::vector<Seed> seeds;
  seeds.push_back(make("valid-bytes-clear", 0, P::kNone, K::kBytes, text("ping")));
  seeds.push_back(make("valid-empty-clear", 0, P::kNone, K::kBytes, {}));
  seeds.push_back(make("valid-params-clear", 0, P::kNone, K::kParams, floats_body({1.f, -2.f, 3.5f, 0.f})));
  seeds.push_back(make("valid-bytes-auth", 1, P::kAuthenticated, K::kBytes, text("membership")));
  seeds.push_back(make("valid-params-auth", 1, P::kAuthenticated, K::kParams, floats_body({0.25f, 8.f})));
  seeds.push_back(make("valid-bytes-sealed", 2, P::kEncrypted, K::kBytes, text("secret")));
  seeds.push_back(make("valid-params-sealed", 2, P::kEncrypted, K::kParams, floats_body({1.f, 2.f, 3.f})));

  Seed s = make("bad-bad_magic-1", 0, P::kNone, K::kBytes, text("x"));
  s.head[0] = std::byte{'X'};
  seeds.push_back(s);
  s = make("bad-bad_version-newer", 0, P::kNone, K::kBytes, text("x"));
  s.head[4] = std::byte{9};
  seeds.push_back(s);
  s = make("bad-bad_version-older", 0, P::kNone, K::kBytes, text("x"));
  s.head[4] = std::byte{0};
  seeds.push_back(s);
  s = make("bad-truncated-head", 0, P::kNone, K::kBytes, text("x"));
  s.head.resize(40);
  seeds.push_back(s);
  s = make("bad-truncated-address", 0, P::kNone, K::kParams, floats_body({1.f}));
  s.head.resize(wire::kFixedHeaderBytes + 10);
  seeds.push_back(s);
  s = make("bad-bad_length-payload", 0, P::kNone, K::kBytes, text("hello"));
  s.head[48] = std::byte{200};  // payload length field larger than the body
  seeds.push_back(s);
  s = make("bad-oversized-payload", 0, P::kNone, K::kBytes, text("hello"));
  s.head[48 + 4] = std::byte{1};  // payload length 2^32 + 5, beyond the 1 MiB limit
  seeds.push_back(s);
  s = make("bad-bad_length-count", 0, P::kNone, K::kParams, floats_body({1.f, 2.f}));
  s.head[wire::kFixedHeaderBytes + 20 + 32] = std::byte{3};  // element count 3 for 8 bytes
  seeds.push_back(s);
  s = make("bad-malformed-kind", 0, P::kNone, K::kBytes, text("x"));
  s.head[56] = std::byte{7};
  seeds.push_back(s);
  s = make("bad-malformed-address", 0, P::kNone, K::kBytes, text("x"));
  s.head[wire::kFixedHeaderBytes] = std::byte{0x01};
  seeds.push_back(s);
  s = make("bad-non_finite-nan", 0, P::kNone, K::kParams,
           floats_body({1.f, std::numeric_limits<float>::quiet_NaN()}));
  seeds.push_back(s);
  s = make("bad-non_finite-inf", 2, P::kEncrypted, K::kParams,
           floats_body({std::numeric_limits<float>::infinity(), 1.f}));
  seeds.push_back(s);
  s = make("bad-auth_failed-flipped-body", 2, P::kEncrypted, K::kBytes, text("secret"));
  s.body[0] ^= std::byte{1};
  seeds.push_back(s);
  s = make("bad-auth_failed-flipped-head", 1, P::kAuthenticated, K::kBytes, text("hello"));
  s.head[6] ^= std::byte{1};  // the type
  seeds.push_back(s);
  s = make("bad-security_mismatch-clear-to-keyed", 1, P::kNone, K::kBytes, text("x"));
  seeds.push_back(s);  // swarm id right, protection none
  s = make("bad-security_mismatch-auth-to-sealed", 2, P::kAuthenticated, K::kBytes, text("x"));
  seeds.push_back(s);
  s = make("bad-wrong_swarm-keyed-to-clear", 1, P::kAuthenticated, K::kBytes, text("x"));
  s.mode = 0;
  seeds.push_back(s);
  s = make("bad-outside_time_window-old", 0, P::kNone, K::kBytes, text("x"));
  s.head[40 + 6] = std::byte{0};  // timestamp years earlier
  seeds.push_back(s);
  for (const auto& seed : seeds) write(dir, seed);
  std::printf("wrote %zu seeds to %s\n", seeds.size(), dir.c_str());
  return 0;
}
