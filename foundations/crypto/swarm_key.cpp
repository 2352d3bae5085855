#include "foundations/crypto/swarm_key.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "foundations/base/error.h"
#include "foundations/wire/byte_reader.h"

namespace chorus {

namespace {
constexpr const char* kFileHeader = "chorus-swarm-key-v1";

void ensure_sodium() {
  if (sodium_init() < 0) throw UserError("libsodium could not be initialized");
}
}  // namespace

struct SwarmKey::Secret {
  Bytes bytes{};
  Secret() { sodium_mlock(bytes.data(), bytes.size()); }
  ~Secret() { sodium_munlock(bytes.data(), bytes.size()); }  // also zeroes
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
};

SwarmKey::SwarmKey() : secret_(std::make_unique<Secret>()) {}
SwarmKey::~SwarmKey() = default;
SwarmKey::SwarmKey(const SwarmKey& o) : SwarmKey() { secret_->bytes = o.secret_->bytes; }
SwarmKey& SwarmKey::operator=(const SwarmKey& o) {
  if (this != &o) secret_->bytes = o.secret_->bytes;
  return *this;
}
SwarmKey::SwarmKey(SwarmKey&& o) noexcept : secret_(std::move(o.secret_)) {}
SwarmKey& SwarmKey::operator=(SwarmKey&& o) noexcept {
  secret_ = std::move(o.secret_);
  return *this;
}

SwarmKey SwarmKey::generate() {
  ensure_sodium();
  SwarmKey k;
  randombytes_buf(k.secret_->bytes.data(), kBytes);
  return k;
}

SwarmKey SwarmKey::from_bytes(const Bytes& bytes) {
  ensure_sodium();
  SwarmKey k;
  k.secret_->bytes = bytes;
  return k;
}

SwarmKey SwarmKey::load(const std::string& path) {
  ensure_sodium();
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw UserError(fmt::format("swarm key {}: {}", path, std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) throw UserError(fmt::format("swarm key {}: not a regular file", path));
  if (st.st_mode & (S_IRWXG | S_IRWXO))
    throw UserError(fmt::format("swarm key {}: permissions {:04o} are too open; run chmod 600 {}", path,
                                st.st_mode & 07777, path));
  std::ifstream in(path);
  if (!in) throw UserError(fmt::format("swarm key {}: cannot be read", path));
  std::string header, hex, rest;
  std::getline(in, header);
  std::getline(in, hex);
  if (header != kFileHeader)
    throw UserError(fmt::format("swarm key {}: not a chorus swarm key (first line must be {})", path, kFileHeader));
  if (in >> rest) throw UserError(fmt::format("swarm key {}: unexpected text after the key", path));
  SwarmKey k;
  std::size_t len = 0;
  const char* end = nullptr;
  if (hex.size() != 2 * kBytes ||
      sodium_hex2bin(k.secret_->bytes.data(), kBytes, hex.data(), hex.size(), nullptr, &len, &end) != 0 ||
      len != kBytes || end != hex.data() + hex.size())
    throw UserError(fmt::format("swarm key {}: the key must be {} hex digits", path, 2 * kBytes));
  sodium_memzero(hex.data(), hex.size());
  return k;
}

void SwarmKey::save(const std::string& path, bool overwrite) const {
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (overwrite ? O_TRUNC : O_EXCL);
  const int fd = ::open(path.c_str(), flags, 0600);
  if (fd < 0) {
    if (errno == EEXIST)
      throw UserError(fmt::format("swarm key {}: file exists (refusing to replace a key; use --force)", path));
    throw UserError(fmt::format("swarm key {}: {}", path, std::strerror(errno)));
  }
  // An existing file opened with O_TRUNC keeps its mode: tighten it.
  if (::fchmod(fd, 0600) != 0) {
    ::close(fd);
    throw UserError(fmt::format("swarm key {}: cannot set mode 0600: {}", path, std::strerror(errno)));
  }
  char hex[2 * kBytes + 1];
  sodium_bin2hex(hex, sizeof hex, secret_->bytes.data(), kBytes);
  const std::string text = fmt::format("{}\n{}\n", kFileHeader, hex);
  sodium_memzero(hex, sizeof hex);
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      throw UserError(fmt::format("swarm key {}: write failed: {}", path, std::strerror(errno)));
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0)
    throw UserError(fmt::format("swarm key {}: write failed: {}", path, std::strerror(errno)));
}

SwarmKey::Bytes SwarmKey::derive(const char context[8], std::uint64_t id) const {
  Bytes out{};
  crypto_kdf_derive_from_key(out.data(), out.size(), id, context, secret_->bytes.data());
  return out;
}

std::uint64_t SwarmKey::swarm_id() const {
  Bytes d = derive("chswarm1", 1);
  const std::uint64_t id = wire::ByteReader(std::as_bytes(std::span(d))).u64();
  sodium_memzero(d.data(), d.size());
  return id;
}

}  // namespace chorus
