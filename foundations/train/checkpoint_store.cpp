// CheckpointStore and write_file_atomically (see checkpoint_store.h).
//
// A file is replaced atomically by writing "<name>.tmp-XXXXXX" (mkstemp) in the same directory,
// fsyncing it, renaming it over <name> and fsyncing the directory, so the rename itself is
// durable. rename() within one filesystem is atomic: a reader (or a restart after a crash)
// sees the old file or the new one, never a mix. A crash leaves at most a stray temporary
// file, which the next CheckpointStore removes.
#include "foundations/train/checkpoint_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <limits>
#include <span>

#include "foundations/base/error.h"

namespace chorus {

namespace {

namespace fs = std::filesystem;

constexpr const char* kIdFile = "peer.id";
constexpr const char* kCheckpointFile = "checkpoint.bin";
constexpr const char* kTempMarker = ".tmp-";
constexpr const char* kIdHeader = "chorus-peer-id-v1";
constexpr std::size_t kMaxIdFileBytes = 4096;

std::string errno_text(int err) { return std::strerror(err); }

// Closes a descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now, reporting the error close() returns (a write-back failure on some filesystems).
  int close_now() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

std::string parent_dir(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

void write_all(int fd, std::span<const std::byte> bytes, const std::string& path, const std::string& temp) {
  const std::byte* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, std::min<std::size_t>(left, 1u << 30));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw UserError(fmt::format("{}: cannot write {}: {}", path, temp, errno_text(errno)));
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

void fsync_directory(const std::string& dir, const std::string& path) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0)
    throw UserError(fmt::format("{}: cannot open its directory to sync it: {}", path, errno_text(errno)));
  // Some filesystems cannot sync a directory (EINVAL); the rename is as durable as they allow.
  if (::fsync(fd.get()) != 0 && errno != EINVAL && errno != EROFS)
    throw UserError(fmt::format("{}: cannot sync its directory: {}", path, errno_text(errno)));
}

void write_atomically(const std::string& path, std::span<const std::byte> bytes) {
  const std::string dir = parent_dir(path);
  std::string temp = path + kTempMarker + "XXXXXX";
  Fd fd(::mkstemp(temp.data()));
  if (fd.get() < 0)
    throw UserError(fmt::format("{}: cannot create a temporary file in {}: {}", path, dir, errno_text(errno)));
  try {
    write_all(fd.get(), bytes, path, temp);
    if (::fsync(fd.get()) != 0) throw UserError(fmt::format("{}: cannot sync {}: {}", path, temp, errno_text(errno)));
    if (fd.close_now() != 0) throw UserError(fmt::format("{}: cannot close {}: {}", path, temp, errno_text(errno)));
    if (::rename(temp.c_str(), path.c_str()) != 0)
      throw UserError(fmt::format("{}: cannot rename {} over it: {}", path, temp, errno_text(errno)));
  } catch (...) {
    ::unlink(temp.c_str());
    throw;
  }
  fsync_directory(dir, path);
}

// The whole file, or nothing if it does not exist. At most max_bytes (0: no limit) are accepted.
std::optional<std::vector<std::byte>> read_file(const std::string& path, std::size_t max_bytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw UserError(fmt::format("{}: cannot open: {}", path, errno_text(errno)));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw UserError(fmt::format("{}: cannot stat: {}", path, errno_text(errno)));
  if (!S_ISREG(st.st_mode)) throw UserError(fmt::format("{}: not a regular file", path));
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (max_bytes != 0 && size > max_bytes)
    throw UserError(fmt::format("{}: {} bytes is too large (at most {} expected); the file is corrupt", path, size,
                                max_bytes));
  std::vector<std::byte> bytes(static_cast<std::size_t>(size));
  std::size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::read(fd.get(), bytes.data() + got, std::min<std::size_t>(bytes.size() - got, 1u << 30));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw UserError(fmt::format("{}: cannot read: {}", path, errno_text(errno)));
    }
    if (n == 0) throw UserError(fmt::format("{}: shrank while being read", path));
    got += static_cast<std::size_t>(n);
  }
  return bytes;
}

PeerId random_peer_id() {
  if (sodium_init() < 0) throw UserError("libsodium could not be initialized");
  PeerId id = 0;
  while (id == 0) randombytes_buf(&id, sizeof id);
  return id;
}

std::string format_identity(const PeerIdentity& who) {
  return fmt::format("{}\nid {:016x}\nincarnation {}\n", kIdHeader, who.id, who.incarnation);
}

// Parses exactly the format format_identity writes.
PeerIdentity parse_identity(const std::string& text, const std::string& path) {
  const auto corrupt = [&](const std::string& problem) {
    return UserError(fmt::format("{}: corrupt peer identity file ({}); restore it, or delete it to start as a new peer",
                                 path, problem));
  };
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t nl = text.find('\n', start);
    if (nl == std::string::npos) throw corrupt("the last line has no newline");
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  if (lines.size() != 3) throw corrupt(fmt::format("{} lines, expected 3", lines.size()));
  if (lines[0] != kIdHeader) throw corrupt("unknown header");
  const auto number = [&](const std::string& line, const std::string& key, int base) {
    if (line.rfind(key + " ", 0) != 0) throw corrupt(fmt::format("expected a line '{} ...'", key));
    const std::string digits = line.substr(key.size() + 1);
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size())
      throw corrupt(fmt::format("bad {} '{}'", key, digits));
    return v;
  };
  PeerIdentity who;
  who.id = number(lines[1], "id", 16);
  who.incarnation = number(lines[2], "incarnation", 10);
  if (who.id == 0) throw corrupt("the id is 0");
  if (who.incarnation == 0) throw corrupt("the incarnation is 0");
  return who;
}

bool is_our_temp_file(const std::string& name) {
  for (const char* base : {kIdFile, kCheckpointFile}) {
    const std::string prefix = std::string(base) + kTempMarker;
    if (name.size() == prefix.size() + 6 && name.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

}  // namespace

void write_file_atomically(const std::string& path, const std::string& bytes) {
  write_atomically(path, std::as_bytes(std::span<const char>(bytes.data(), bytes.size())));
}

CheckpointStore::CheckpointStore(std::string dir) : dir_(std::move(dir)) {
  if (dir_.empty()) throw UserError("checkpoint directory: no path given");
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw UserError(fmt::format("checkpoint directory {}: cannot create it: {}", dir_, ec.message()));
  if (!fs::is_directory(dir_, ec)) throw UserError(fmt::format("checkpoint directory {}: not a directory", dir_));
  if (::access(dir_.c_str(), W_OK | X_OK) != 0)
    throw UserError(fmt::format("checkpoint directory {}: not writable: {}", dir_, errno_text(errno)));

  // Temporary files left by a crash during a write (they never hold the only good copy).
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    if (!is_our_temp_file(it->path().filename().string())) continue;
    std::error_code rm;
    fs::remove(it->path(), rm);
    if (rm)
      throw UserError(
          fmt::format("{}: cannot remove this stale temporary file: {}", it->path().string(), rm.message()));
  }
  if (ec) throw UserError(fmt::format("checkpoint directory {}: cannot list it: {}", dir_, ec.message()));
}

std::string CheckpointStore::checkpoint_path() const { return (fs::path(dir_) / kCheckpointFile).string(); }

PeerIdentity CheckpointStore::start_incarnation() {
  const std::string path = (fs::path(dir_) / kIdFile).string();
  PeerIdentity who;
  if (auto bytes = read_file(path, kMaxIdFileBytes)) {
    who = parse_identity(std::string(reinterpret_cast<const char*>(bytes->data()), bytes->size()), path);
    if (who.incarnation == std::numeric_limits<std::uint64_t>::max())
      throw UserError(fmt::format("{}: the incarnation counter is exhausted", path));
    ++who.incarnation;
  } else {
    who.id = random_peer_id();
    who.incarnation = 1;
  }
  write_file_atomically(path, format_identity(who));
  return who;
}

void CheckpointStore::save(const TrainingState& state) {
  const std::vector<std::byte> bytes = state.encode();
  write_atomically(checkpoint_path(), bytes);
}

std::optional<TrainingState> CheckpointStore::load() const {
  const std::string path = checkpoint_path();
  auto bytes = read_file(path, 0);
  if (!bytes) return std::nullopt;
  return TrainingState::decode(*bytes, path);
}

}  // namespace chorus
