// OpenSSL's EVP AES-256-GCM, as aes_gcm::Key drives it (the default for frames), passes every
// test an AES-256-GCM implementation must pass (aes_gcm_cases.h), in every build.
#include "tests/crypto/aes_gcm_cases.h"

chorus::aes_gcm::Implementation chorus_test::aes_gcm_under_test() { return chorus::aes_gcm::Implementation::kOpenSsl; }
