// Swarm key files: written 0600, read back identically, and every bad file refused clearly.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <fstream>

#include "foundations/base/error.h"
#include "foundations/crypto/swarm_key.h"
#include "tests/test_util.h"

using namespace chorus;

namespace {
void write_text(const std::string& path, const std::string& text, mode_t mode = 0600) {
  std::ofstream(path) << text;
  ::chmod(path.c_str(), mode);
}
std::string error_of(const std::string& path) {
  try {
    SwarmKey::load(path);
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("a saved key loads back with the same swarm id and subkeys") {
  chorus_test::TempDir dir;
  const std::string path = dir / "swarm.key";
  const SwarmKey key = SwarmKey::generate();
  key.save(path);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  const SwarmKey back = SwarmKey::load(path);
  CHECK(back.swarm_id() == key.swarm_id());
  CHECK(back.derive("chframe1", 1) == key.derive("chframe1", 1));
  CHECK(key.derive("chframe1", 1) != key.derive("chframe1", 2));
  CHECK(SwarmKey::generate().swarm_id() != key.swarm_id());
}

TEST_CASE("saving refuses to replace a key unless asked") {
  chorus_test::TempDir dir;
  const std::string path = dir / "swarm.key";
  const SwarmKey a = SwarmKey::generate(), b = SwarmKey::generate();
  a.save(path);
  CHECK_THROWS_AS(b.save(path), UserError);
  CHECK(SwarmKey::load(path).swarm_id() == a.swarm_id());
  ::chmod(path.c_str(), 0644);
  b.save(path, true);
  CHECK(SwarmKey::load(path).swarm_id() == b.swarm_id());  // and the mode is 0600 again
}

TEST_CASE("bad key files are refused with a message naming the file") {
  chorus_test::TempDir dir;
  const std::string good_hex(64, 'a');
  const std::string p = dir / "k";
  write_text(p, "chorus-swarm-key-v1\n" + good_hex + "\n", 0644);
  std::string e = error_of(p);
  CHECK(e.find(p) != std::string::npos);
  CHECK(e.find("too open") != std::string::npos);
  write_text(p, "chorus-swarm-key-v1\n" + good_hex + "\n");
  CHECK(error_of(p).empty());
  write_text(p, "some-other-format\n" + good_hex + "\n");
  CHECK(error_of(p).find("not a chorus swarm key") != std::string::npos);
  write_text(p, "chorus-swarm-key-v1\n" + std::string(62, 'a') + "\n");
  CHECK(error_of(p).find("64 hex digits") != std::string::npos);
  write_text(p, "chorus-swarm-key-v1\n" + std::string(63, 'a') + "g\n");
  CHECK(error_of(p).find("64 hex digits") != std::string::npos);
  write_text(p, "chorus-swarm-key-v1\n" + good_hex + "\nextra\n");
  CHECK(error_of(p).find("unexpected") != std::string::npos);
  write_text(p, "");
  CHECK_FALSE(error_of(p).empty());
  CHECK(error_of(dir / "missing").find("No such file") != std::string::npos);
  CHECK(error_of(dir.path().string()).find("not a regular file") != std::string::npos);
}
