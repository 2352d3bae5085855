// `chorus keygen --out FILE`: writes a loadable key with mode 0600 and never silently replaces one.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include "foundations/crypto/swarm_key.h"
#include "tests/test_util.h"

using chorus_test::run_command;

TEST_CASE("chorus keygen writes a private key file") {
  chorus_test::TempDir dir;
  const std::string path = dir / "swarm.key";
  const std::string bin = chorus_test::chorus_bin();
  auto r = run_command(bin + " keygen --out " + path);
  CHECK(r.exit_code == 0);
  CHECK(r.output.find(path) != std::string::npos);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  const auto key = chorus::SwarmKey::load(path);
  char id[17];
  std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(key.swarm_id()));
  CHECK(r.output.find(id) != std::string::npos);

  r = run_command(bin + " keygen --out " + path);
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("file exists") != std::string::npos);
  CHECK(chorus::SwarmKey::load(path).swarm_id() == key.swarm_id());

  r = run_command(bin + " keygen --out " + path + " --force");
  CHECK(r.exit_code == 0);
  CHECK(chorus::SwarmKey::load(path).swarm_id() != key.swarm_id());

  r = run_command(bin + " keygen --out " + (dir / "no/such/dir/k"));
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("chorus: error: swarm key") != std::string::npos);
}
