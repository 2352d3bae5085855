// chorus's fused VAES AES-256-GCM (aes_gcm_vaes.h; seals frames only when the build opts in with
// the meson option vaes) passes every test an AES-256-GCM implementation must pass
// (aes_gcm_cases.h), in every build. Skipped on CPUs without VAES/VPCLMULQDQ/AVX-512.
#include "tests/crypto/aes_gcm_cases.h"

chorus::aes_gcm::Implementation chorus_test::aes_gcm_under_test() { return chorus::aes_gcm::Implementation::kVaes; }
