// CheckpointStore: a stable identity with a growing incarnation, save/load round trips,
// corrupt files named in UserErrors, stale temporary files removed, unwritable directories
// refused, and -- for real -- a writer SIGKILLed at random moments never loses the previous
// checkpoint.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "foundations/base/error.h"
#include "foundations/train/checkpoint_store.h"
#include "tests/ckpt/state_fixtures.h"
#include "tests/test_util.h"

using namespace chorus;
using ckpt_test::bits_equal;
using ckpt_test::derived_state;
using ckpt_test::random_state;
namespace fs = std::filesystem;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::vector<std::string> temp_files(const fs::path& dir) {
  std::vector<std::string> found;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".tmp-") != std::string::npos) found.push_back(e.path().filename().string());
  return found;
}

// Expects a UserError whose message mentions `needle` (a path).
template <typename F>
void check_user_error(F&& f, const std::string& needle) {
  try {
    f();
    FAIL("expected a UserError mentioning " << needle);
  } catch (const UserError& e) {
    CHECK_MESSAGE(std::string(e.what()).find(needle) != std::string::npos, e.what());
  }
}

}  // namespace

TEST_CASE("the peer identity is stable across reopening and the incarnation grows") {
  chorus_test::TempDir tmp("chorus-ckpt");
  const std::string dir = tmp / "nested/peer";  // created, parents included
  PeerIdentity first;
  {
    CheckpointStore store(dir);
    first = store.start_incarnation();
    CHECK(first.id != 0);
    CHECK(first.incarnation == 1);
    const PeerIdentity again = store.start_incarnation();
    CHECK(again.id == first.id);
    CHECK(again.incarnation == 2);
  }
  for (std::uint64_t expected = 3; expected <= 6; ++expected) {
    CheckpointStore reopened(dir);
    const PeerIdentity who = reopened.start_incarnation();
    CHECK(who.id == first.id);
    CHECK(who.incarnation == expected);
  }
  CHECK(read_text(dir + "/peer.id") == fmt::format("chorus-peer-id-v1\nid {:016x}\nincarnation 6\n", first.id));
  CHECK(temp_files(dir).empty());

  // Other directories are other peers.
  std::set<PeerId> ids{first.id};
  for (int i = 0; i < 8; ++i) ids.insert(CheckpointStore(tmp / ("other-" + std::to_string(i))).start_incarnation().id);
  CHECK(ids.size() == 9);
  CHECK(ids.count(0) == 0);
}

TEST_CASE("a corrupt peer.id is a UserError naming it") {
  chorus_test::TempDir tmp("chorus-ckpt");
  const std::string dir = tmp / "peer";
  CheckpointStore store(dir);
  const std::string path = dir + "/peer.id";
  for (const std::string& text :
       {std::string("garbage"), std::string(""), std::string("chorus-peer-id-v1\nid 00ff\nincarnation 3"),
        std::string("chorus-peer-id-v1\nid 0\nincarnation 3\n"),
        std::string("chorus-peer-id-v1\nid 12\nincarnation x\n"),
        std::string("chorus-peer-id-v1\nid 12zz\nincarnation 3\n"),
        std::string("chorus-peer-id-v1\nid 12\nincarnation 3\nextra\n"),
        std::string("chorus-peer-id-v2\nid 12\nincarnation 3\n"),
        std::string("chorus-peer-id-v1\nid 12345678901234567\nincarnation 3\n"), std::string(100000, 'x')}) {
    CAPTURE(text.substr(0, 60));
    write_text(path, text);
    check_user_error([&] { store.start_incarnation(); }, path);
  }
  // A valid file written by hand is accepted.
  write_text(path, "chorus-peer-id-v1\nid 00000000000000ab\nincarnation 41\n");
  const PeerIdentity who = store.start_incarnation();
  CHECK(who.id == 0xab);
  CHECK(who.incarnation == 42);
}

TEST_CASE("save and load round trip; nothing before the first save") {
  chorus_test::TempDir tmp("chorus-ckpt");
  CheckpointStore store(tmp / "peer");
  CHECK(store.checkpoint_path() == tmp / "peer/checkpoint.bin");
  CHECK_FALSE(store.load().has_value());
  const TrainingState a = random_state(11, 50000, 100000);
  store.save(a);
  auto loaded = store.load();
  REQUIRE(loaded);
  CHECK(bits_equal(*loaded, a));
  // A later save replaces it; a fresh store sees the latest.
  const TrainingState b = random_state(12, 123, 0, "cnn", "sgd");
  store.save(b);
  loaded = CheckpointStore(tmp / "peer").load();
  REQUIRE(loaded);
  CHECK(bits_equal(*loaded, b));
  CHECK(temp_files(tmp / "peer").empty());
}

TEST_CASE("a corrupt checkpoint is a UserError naming the file") {
  chorus_test::TempDir tmp("chorus-ckpt");
  CheckpointStore store(tmp / "peer");
  store.save(random_state(13, 1000, 1000));
  const std::string path = store.checkpoint_path();
  std::string bytes = read_text(path);
  bytes[bytes.size() / 2] ^= 0x10;
  write_text(path, bytes);
  check_user_error([&] { (void)store.load(); }, path);
  write_text(path, bytes.substr(0, 30));
  check_user_error([&] { (void)store.load(); }, path);
  fs::remove(path);
  fs::create_directory(path);  // not a file at all
  check_user_error([&] { (void)store.load(); }, path);
}

TEST_CASE("stale temporary files are removed on open, and only those") {
  chorus_test::TempDir tmp("chorus-ckpt");
  const std::string dir = tmp / "peer";
  const TrainingState s = random_state(14, 100, 100);
  CheckpointStore(dir).save(s);
  for (const char* name : {"checkpoint.bin.tmp-AbC123", "checkpoint.bin.tmp-zzzzzz", "peer.id.tmp-x1Y2z3"})
    write_text(dir + "/" + name, "half a write");
  for (const char* name : {"notes.txt", "checkpoint.bin.tmp-toolongname", "other.bin.tmp-AbC123"})
    write_text(dir + "/" + name, "keep me");
  CheckpointStore store(dir);
  std::set<std::string> left;
  for (const auto& e : fs::directory_iterator(dir)) left.insert(e.path().filename().string());
  CHECK(left == std::set<std::string>{"checkpoint.bin", "notes.txt", "checkpoint.bin.tmp-toolongname",
                                      "other.bin.tmp-AbC123"});
  auto loaded = store.load();
  REQUIRE(loaded);
  CHECK(bits_equal(*loaded, s));
}

TEST_CASE("an unusable directory is a UserError naming it") {
  chorus_test::TempDir tmp("chorus-ckpt");
  write_text(tmp / "file", "a regular file");
  check_user_error([&] { CheckpointStore store(tmp / "file/peer"); }, tmp / "file/peer");
  check_user_error([&] { CheckpointStore store(tmp / "file"); }, tmp / "file");
  check_user_error([&] { CheckpointStore store(""); }, "checkpoint directory");

  // The directory disappears (replaced by a file) after opening: save fails, naming the file.
  const std::string dir = tmp / "peer";
  CheckpointStore store(dir);
  store.save(random_state(15, 10, 10));
  fs::remove_all(dir);
  write_text(dir, "not a directory any more");
  check_user_error([&] { store.save(random_state(16, 10, 10)); }, store.checkpoint_path());
  check_user_error([&] { store.start_incarnation(); }, dir + "/peer.id");
  check_user_error([&] { write_file_atomically(tmp / "missing/dir/file", "x"); }, tmp / "missing/dir/file");

  if (geteuid() != 0) {  // root writes anywhere, so permissions only bind other users
    const std::string ro = tmp / "read-only";
    fs::create_directory(ro);
    fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec);
    check_user_error([&] { CheckpointStore s(ro); }, ro);
    fs::permissions(ro, fs::perms::owner_all);
  }
}

TEST_CASE("write_file_atomically replaces the whole file") {
  chorus_test::TempDir tmp("chorus-ckpt");
  const std::string path = tmp / "file.txt";
  write_file_atomically(path, "first version, longer than the second\n");
  CHECK(read_text(path) == "first version, longer than the second\n");
  write_file_atomically(path, std::string("second\0x", 8));
  CHECK(read_text(path) == std::string("second\0x", 8));
  write_file_atomically(path, "");
  CHECK(read_text(path).empty());
  CHECK(temp_files(tmp.path()).empty());
}

// The crash test. A child process saves states 1, 2, 3, ... of a ~24 MB checkpoint in a loop
// and is SIGKILLed after a varied delay; a fresh store must then load a complete state that the
// writer had finished: the last one loaded before, or one of the child's, checked element by
// element. Each child continues from the last loaded state, so progress is visible.
TEST_CASE("a writer killed at any moment never loses the previous checkpoint") {
  constexpr std::size_t kParams = 5'000'000, kState = 1'000'000;
  // At least kMinKills kills, and more until kMinTorn of them landed inside a file write
  // (a temporary file was left behind); most of the writer's time goes to building states.
  constexpr int kMinKills = 20, kMinTorn = 5, kMaxKills = 200;
  chorus_test::TempDir tmp("chorus-ckpt-crash");
  const std::string dir = tmp / "peer";
  CheckpointStore(dir).save(derived_state(0, kParams, kState));

  const unsigned seed = std::random_device{}();
  MESSAGE("kill delays seeded with " << seed);
  std::mt19937 rng(seed);
  std::int64_t last = 0;
  int advanced = 0, mid_write = 0;
  int kills = 0;
  for (; kills < kMinKills || (mid_write < kMinTorn && kills < kMaxKills); ++kills) {
    const int kill_no = kills;
    // Early kills land in the first write; later ones after several complete saves.
    const int max_ms = kill_no < 5 ? 40 : kill_no < 12 ? 400 : kill_no < 20 ? 1500 : 600;
    const int delay_ms = std::uniform_int_distribution<int>(1, max_ms)(rng);
    CAPTURE(kill_no);
    CAPTURE(delay_ms);
    const std::int64_t base = last + 1;
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      try {
        CheckpointStore store(dir);
        for (std::int64_t i = base;; ++i) store.save(derived_state(i, kParams, kState));
      } catch (...) {
      }
      std::_Exit(3);  // only reached on an error
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    REQUIRE(kill(pid, SIGKILL) == 0);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE_MESSAGE(WIFSIGNALED(status), "the writer exited by itself with status " << status);

    if (!temp_files(dir).empty()) ++mid_write;
    CheckpointStore store(dir);
    CHECK(temp_files(dir).empty());
    const std::optional<TrainingState> loaded = store.load();
    REQUIRE(loaded);
    const std::int64_t step = loaded->step;
    CAPTURE(step);
    REQUIRE((step == last || step >= base));
    REQUIRE(bits_equal(*loaded, derived_state(step, kParams, kState)));
    if (step != last) ++advanced;
    last = step;
  }
  MESSAGE(kills << " kills: " << mid_write << " interrupted a write, " << advanced
                 << " found a newer checkpoint; last step " << last);
  CHECK(advanced > 0);   // the writer did make progress between kills
  CHECK(mid_write >= kMinTorn);  // and kills did land inside writes
}
