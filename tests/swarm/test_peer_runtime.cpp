// The serverless peer as users run it: real `chorus peer` processes on loopback joining
// through one seed, a peer joining mid-training, kill -9, graceful leave, restart from a
// checkpoint. Everything is observed through the peers' JSON logs.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <memory>

#include "tests/child_process.h"
#include "tests/json_lines.h"
#include "tests/test_util.h"

using namespace std::chrono_literals;
using chorus_test::ChildProcess;
using chorus_test::eventually;
using chorus_test::read_json_lines;
using nlohmann::json;

namespace {

int free_port() { return chorus_test::free_loopback_port(); }

struct Peer {
  std::string address, log, out, checkpoint;
  std::unique_ptr<ChildProcess> process;
};

class Swarm {
 public:
  explicit Swarm(const chorus_test::TempDir& dir) : dir_(dir) {}

  Peer& add(const std::string& seed, std::vector<std::string> extra = {}) {
    Peer p;
    const auto i = peers_.size();
    p.address = "tcp://127.0.0.1:" + std::to_string(free_port());
    p.log = dir_ / ("peer" + std::to_string(i) + ".jsonl");
    p.out = dir_ / ("peer" + std::to_string(i) + ".out");
    p.checkpoint = dir_ / ("peer" + std::to_string(i));
    peers_.push_back(std::move(p));
    start(peers_.back(), seed, std::move(extra));
    return peers_.back();
  }

  void start(Peer& p, const std::string& seed, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"peer", "--listen", p.address, "--log", p.log,
                                     "--checkpoint", p.checkpoint, "--model", "mlp",
                                     "--epochs", "1000", "--slowdown", "8", "--log-every", "5",
                                     "--eval-every", "100000000", "--checkpoint-every", "50",
                                     "--data", chorus_test::data_dir()};
    if (!seed.empty()) args.insert(args.end(), {"--seeds", seed});
    args.insert(args.end(), extra.begin(), extra.end());
    p.process = std::make_unique<ChildProcess>(chorus_test::chorus_bin(), args, chorus_test::ChildStreams{.output_file = p.out});
  }

  std::vector<Peer>& peers() { return peers_; }

 private:
  const chorus_test::TempDir& dir_;
  std::vector<Peer> peers_;
};

std::int64_t last_step(const Peer& p) {
  std::int64_t step = 0;
  for (const auto& l : read_json_lines(p.log))
    if (!l.contains("event") && l.contains("step")) step = l["step"].get<std::int64_t>();
  return step;
}

// The size of the newest view the peer logged.
std::size_t current_view(const Peer& p) {
  std::size_t view = 0;
  for (const auto& l : read_json_lines(p.log))
    if (l.value("event", "") == "view") view = l["view"].get<std::size_t>();
  return view;
}

bool has_event(const Peer& p, const std::string& name, const std::string& address) {
  for (const auto& l : read_json_lines(p.log))
    if (l.value("event", "") == name && l.value("address", "") == address) return true;
  return false;
}

std::string output_of(const Peer& p) {
  std::ifstream in(p.out);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Starts a seed and two peers joining through it; true once all three see a view of three and
// have taken 20 steps.
bool start_three_training(Swarm& swarm) {
  const std::string seed = swarm.add("").address;
  swarm.add(seed);
  swarm.add(seed);
  return eventually(15s, [&] {
    for (auto& p : swarm.peers())
      if (current_view(p) != 3 || last_step(p) < 20) return false;
    return true;
  });
}

void stop_all(Swarm& swarm) {
  for (auto& p : swarm.peers())
    if (p.process) p.process->signal(SIGTERM);
  for (auto& p : swarm.peers()) {
    if (!p.process) continue;
    const int code = p.process->wait(15s);
    INFO(p.address, ": ", output_of(p));
    CHECK(code == 0);
    const auto lines = read_json_lines(p.log);
    REQUIRE_FALSE(lines.empty());
    CHECK(lines.back().value("event", "") == "done");
  }
}

}  // namespace

TEST_CASE("peers started from one seed form one view; a fifth joining mid-training gets the state") {
  chorus_test::TempDir dir("chorus-swarm");
  Swarm swarm(dir);
  const std::string seed = swarm.add("").address;
  for (int i = 0; i < 3; ++i) swarm.add(seed);
  CHECK(eventually(15s, [&] {
    for (auto& p : swarm.peers())
      if (current_view(p) != 4) return false;
    return true;
  }));
  REQUIRE(eventually(60s, [&] {
    for (auto& p : swarm.peers())
      if (last_step(p) < 150) return false;
    return true;
  }));

  Peer& late = swarm.add(seed);
  REQUIRE(eventually(20s, [&] { return last_step(late) > 0; }));
  json transfer, first_step;
  for (const auto& l : read_json_lines(late.log)) {
    if (l.value("event", "") == "state_transfer" && transfer.is_null()) transfer = l;
    if (!l.contains("event") && first_step.is_null()) first_step = l;
  }
  INFO(output_of(late));
  REQUIRE_FALSE(transfer.is_null());
  CHECK(transfer["step"].get<std::int64_t>() >= 150);
  // A fresh model's loss is ~2.3 (ln 10); one that received trained parameters is far lower.
  REQUIRE_FALSE(first_step.is_null());
  CHECK(first_step["loss"].get<double>() < 1.2);
  CHECK(first_step["step"].get<std::int64_t>() > transfer["step"].get<std::int64_t>());
  CHECK(eventually(10s, [&] {
    for (auto& p : swarm.peers())
      if (current_view(p) != 5) return false;
    return true;
  }));
  stop_all(swarm);
}

TEST_CASE("kill -9: every survivor marks the peer dead within 5 s and keeps training") {
  chorus_test::TempDir dir("chorus-swarm");
  Swarm swarm(dir);
  REQUIRE(start_three_training(swarm));
  Peer& victim = swarm.peers()[2];
  victim.process->signal(SIGKILL);
  const auto killed = std::chrono::steady_clock::now();
  const bool detected = eventually(5s, [&] {
    return has_event(swarm.peers()[0], "dead", victim.address) &&
           has_event(swarm.peers()[1], "dead", victim.address);
  });
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  MESSAGE("declared dead after ", seconds, " s");
  CHECK(detected);
  const std::int64_t before = last_step(swarm.peers()[0]);
  CHECK(eventually(5s, [&] { return last_step(swarm.peers()[0]) > before + 20; }));
  CHECK(current_view(swarm.peers()[0]) == 2);
  CHECK(current_view(swarm.peers()[1]) == 2);
  victim.process.reset();
  stop_all(swarm);
}

TEST_CASE("graceful leave: survivors drop the peer at once, without suspecting it") {
  chorus_test::TempDir dir("chorus-swarm");
  Swarm swarm(dir);
  REQUIRE(start_three_training(swarm));
  Peer& leaver = swarm.peers()[2];
  leaver.process->signal(SIGTERM);
  CHECK(leaver.process->wait(10s) == 0);
  // Suspicion takes seconds on the loopback preset; a leave is seen well within one.
  CHECK(eventually(1s, [&] {
    return has_event(swarm.peers()[0], "leave", leaver.address) &&
           has_event(swarm.peers()[1], "leave", leaver.address);
  }));
  CHECK_FALSE(has_event(swarm.peers()[0], "dead", leaver.address));
  CHECK_FALSE(has_event(swarm.peers()[1], "dead", leaver.address));
  CHECK(eventually(3s, [&] { return current_view(swarm.peers()[0]) == 2; }));
  leaver.process.reset();
  swarm.peers().pop_back();
  stop_all(swarm);
}

TEST_CASE("a peer killed and restarted with its checkpoint directory resumes, not from zero") {
  chorus_test::TempDir dir("chorus-swarm");
  Swarm swarm(dir);
  Peer& p = swarm.add("");
  std::int64_t checkpointed = 0;
  REQUIRE(eventually(60s, [&] {
    for (const auto& l : read_json_lines(p.log))
      if (l.value("event", "") == "checkpoint") checkpointed = l["step"].get<std::int64_t>();
    return checkpointed >= 100;
  }));
  p.process->signal(SIGKILL);
  p.process->wait(5s);
  // The last checkpoint completed before the kill.
  for (const auto& l : read_json_lines(p.log))
    if (l.value("event", "") == "checkpoint") checkpointed = l["step"].get<std::int64_t>();
  const std::size_t lines_before = read_json_lines(p.log).size();

  swarm.start(p, "");
  json resume, first_step;
  // Wait for the restarted peer's first step line (events such as resume and view come before it).
  eventually(30s, [&] {
    const auto lines = read_json_lines(p.log);
    for (std::size_t i = lines_before; i < lines.size(); ++i) {
      if (lines[i].value("event", "") == "resume" && resume.is_null()) resume = lines[i];
      if (!lines[i].contains("event") && first_step.is_null()) first_step = lines[i];
    }
    return !first_step.is_null();
  });
  INFO(output_of(p));
  REQUIRE_FALSE(resume.is_null());
  CHECK(resume["step"].get<std::int64_t>() == checkpointed);
  REQUIRE_FALSE(first_step.is_null());
  CHECK(first_step["step"].get<std::int64_t>() == checkpointed + 1);
  CHECK(first_step["loss"].get<double>() < 1.2);
  stop_all(swarm);
}
