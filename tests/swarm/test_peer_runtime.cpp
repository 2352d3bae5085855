// The serverless peer as users run it: real `chorus peer` processes on loopback joining
// through one seed, a peer joining mid-training, kill -9, graceful leave, restart from a
// checkpoint. Everything is observed through the peers' JSON logs.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <iterator>
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

// Each test's scratch directory and swarm.
struct SwarmFixture {
  chorus_test::TempDir dir{"chorus-swarm"};
  Swarm swarm{dir};
};

// `key` in the last line of the peer's log that `match` accepts, as a T (0 before there is one).
template <typename T>
T last_logged(const Peer& p, const std::function<bool(const json&)>& match, const char* key) {
  T value = 0;
  for (const auto& l : read_json_lines(p.log))
    if (match(l)) value = l[key].get<T>();
  return value;
}

bool is_step_line(const json& l) { return !l.contains("event") && l.contains("step"); }
std::function<bool(const json&)> is_event(const std::string& name) {
  return [name](const json& l) { return l.value("event", "") == name; };
}

std::int64_t last_step(const Peer& p) { return last_logged<std::int64_t>(p, is_step_line, "step"); }

// The size of the newest view the peer logged.
std::size_t current_view(const Peer& p) { return last_logged<std::size_t>(p, is_event("view"), "view"); }

// The addresses in the newest view the peer logged (none before its first).
std::vector<std::string> current_members(const Peer& p) {
  std::vector<std::string> members;
  for (const auto& l : read_json_lines(p.log))
    if (l.value("event", "") == "view") members = l["members"].get<std::vector<std::string>>();
  return members;
}

bool holds(const std::vector<std::string>& members, const std::string& address) {
  return std::find(members.begin(), members.end(), address) != members.end();
}

// Every view the peer logged from line `from` on.
std::vector<std::vector<std::string>> views_since(const Peer& p, std::size_t from) {
  std::vector<std::vector<std::string>> out;
  const auto lines = read_json_lines(p.log);
  for (std::size_t i = from; i < lines.size(); ++i)
    if (lines[i].value("event", "") == "view") out.push_back(lines[i]["members"].get<std::vector<std::string>>());
  return out;
}

// The step of the last checkpoint the peer logged (0 before its first).
std::int64_t last_checkpoint(const Peer& p) { return last_logged<std::int64_t>(p, is_event("checkpoint"), "step"); }

bool has_event(const Peer& p, const std::string& name, const std::string& address) {
  for (const auto& l : read_json_lines(p.log))
    if (l.value("event", "") == name && l.value("address", "") == address) return true;
  return false;
}

// Whether peers 0 and 1, the survivors of peer 2 in the three-peer tests, both logged event
// `name` about `address`.
bool survivors_logged(Swarm& swarm, const std::string& name, const std::string& address) {
  return has_event(swarm.peers()[0], name, address) && has_event(swarm.peers()[1], name, address);
}

// Whether `holds` is true of every peer of the swarm.
bool every_peer(Swarm& swarm, const std::function<bool(const Peer&)>& holds) {
  for (const auto& p : swarm.peers())
    if (!holds(p)) return false;
  return true;
}

// From the line numbered `from` on in the peer's log: the first `event` line and the first step
// line (null where there is none yet).
struct FirstLines {
  json event, step;
};
FirstLines first_lines(const Peer& p, const std::string& event, std::size_t from = 0) {
  FirstLines first;
  const auto lines = read_json_lines(p.log);
  for (std::size_t i = from; i < lines.size(); ++i) {
    if (lines[i].value("event", "") == event && first.event.is_null()) first.event = lines[i];
    if (!lines[i].contains("event") && first.step.is_null()) first.step = lines[i];
  }
  return first;
}

std::string output_of(const Peer& p) {
  std::ifstream in(p.out);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Starts a seed and two peers joining through it; true once all three see a view of three and
// have taken 20 steps (bounded: 15 s).
bool start_three_training(Swarm& swarm) {
  const std::string seed = swarm.add("").address;
  swarm.add(seed);
  swarm.add(seed);
  return eventually(15s, [&] {
    return every_peer(swarm, [](const Peer& p) { return current_view(p) == 3 && last_step(p) >= 20; });
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

TEST_CASE_FIXTURE(SwarmFixture, "peers started from one seed form one view; a fifth joining mid-training gets the state") {
  const std::string seed = swarm.add("").address;
  for (int i = 0; i < 3; ++i) swarm.add(seed);
  CHECK(eventually(15s, [&] { return every_peer(swarm, [](const Peer& p) { return current_view(p) == 4; }); }));
  REQUIRE(eventually(60s, [&] { return every_peer(swarm, [](const Peer& p) { return last_step(p) >= 150; }); }));

  Peer& late = swarm.add(seed);
  REQUIRE(eventually(20s, [&] { return last_step(late) > 0; }));
  const FirstLines first = first_lines(late, "state_transfer");
  const json& transfer = first.event;
  const json& first_step = first.step;
  INFO(output_of(late));
  REQUIRE_FALSE(transfer.is_null());
  CHECK(transfer["step"].get<std::int64_t>() >= 150);
  // A fresh model's loss is ~2.3 (ln 10); one that received trained parameters is far lower.
  REQUIRE_FALSE(first_step.is_null());
  CHECK(first_step["loss"].get<double>() < 1.2);
  CHECK(first_step["step"].get<std::int64_t>() > transfer["step"].get<std::int64_t>());
  CHECK(eventually(10s, [&] { return every_peer(swarm, [](const Peer& p) { return current_view(p) == 5; }); }));
  stop_all(swarm);
}

TEST_CASE_FIXTURE(SwarmFixture, "kill -9: every survivor marks the peer dead within 5 s and keeps training") {
  REQUIRE(start_three_training(swarm));
  Peer& victim = swarm.peers()[2];
  victim.process->signal(SIGKILL);
  const auto killed = std::chrono::steady_clock::now();
  const bool detected = eventually(5s, [&] { return survivors_logged(swarm, "dead", victim.address); });
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

TEST_CASE_FIXTURE(SwarmFixture, "graceful leave: survivors drop the peer at once, without suspecting it") {
  REQUIRE(start_three_training(swarm));
  Peer& leaver = swarm.peers()[2];
  leaver.process->signal(SIGTERM);
  CHECK(leaver.process->wait(10s) == 0);
  // Suspicion takes seconds on the loopback preset; a leave is seen well within one.
  CHECK(eventually(1s, [&] { return survivors_logged(swarm, "leave", leaver.address); }));
  CHECK_FALSE(has_event(swarm.peers()[0], "dead", leaver.address));
  CHECK_FALSE(has_event(swarm.peers()[1], "dead", leaver.address));
  CHECK(eventually(3s, [&] { return current_view(swarm.peers()[0]) == 2; }));
  leaver.process.reset();
  swarm.peers().pop_back();
  stop_all(swarm);
}

TEST_CASE_FIXTURE(SwarmFixture, "a peer killed and restarted with its checkpoint directory resumes, not from zero") {
  Peer& p = swarm.add("");
  std::int64_t checkpointed = 0;
  REQUIRE(eventually(60s, [&] { return (checkpointed = last_checkpoint(p)) >= 100; }));
  p.process->signal(SIGKILL);
  p.process->wait(5s);
  // The last checkpoint completed before the kill.
  checkpointed = last_checkpoint(p);
  const std::size_t lines_before = read_json_lines(p.log).size();

  swarm.start(p, "");
  // Wait for the restarted peer's first step line (events such as resume and view come before it).
  FirstLines first;
  eventually(30s, [&] {
    first = first_lines(p, "resume", lines_before);
    return !first.step.is_null();
  });
  const json& resume = first.event;
  const json& first_step = first.step;
  INFO(output_of(p));
  REQUIRE_FALSE(resume.is_null());
  CHECK(resume["step"].get<std::int64_t>() == checkpointed);
  REQUIRE_FALSE(first_step.is_null());
  CHECK(first_step["step"].get<std::int64_t>() == checkpointed + 1);
  CHECK(first_step["loss"].get<double>() < 1.2);
  stop_all(swarm);
}

TEST_CASE_FIXTURE(SwarmFixture, "a peer restarted from its checkpoint at a new address is in every view there within 5 s") {
  REQUIRE(start_three_training(swarm));
  Peer& moved = swarm.peers()[2];
  REQUIRE(eventually(60s, [&] { return last_checkpoint(moved) >= 50; }));
  moved.process->signal(SIGKILL);
  moved.process->wait(5s);
  const std::string old_address = moved.address;
  std::vector<std::size_t> lines_before;
  for (const auto& p : swarm.peers()) lines_before.push_back(read_json_lines(p.log).size());

  // The same checkpoint directory (same id, a newer incarnation) on another port, as a
  // rescheduled pod or Slurm task comes back on a new address.
  moved.address = "tcp://127.0.0.1:" + std::to_string(free_port());
  swarm.start(moved, swarm.peers()[0].address);
  REQUIRE(eventually(30s, [&] { return !first_lines(moved, "start", lines_before[2]).event.is_null(); }));
  const auto started = std::chrono::steady_clock::now();
  const bool everywhere = eventually(5s, [&] {
    return every_peer(swarm, [&](const Peer& p) {
      const auto members = current_members(p);
      return members.size() == 3 && holds(members, moved.address) && !holds(members, old_address);
    });
  });
  MESSAGE("in every view at the new address ",
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(), " s after it started");
  CHECK(everywhere);
  // No view of the restarted peer ever holds the old address, and none of the others' does once
  // they have seen the new one.
  for (std::size_t i = 0; i < swarm.peers().size(); ++i) {
    bool seen_new = i == 2;
    for (const auto& members : views_since(swarm.peers()[i], lines_before[i])) {
      seen_new = seen_new || holds(members, moved.address);
      INFO("peer ", i);
      if (seen_new) CHECK_FALSE(holds(members, old_address));
    }
  }
  stop_all(swarm);
}

TEST_CASE_FIXTURE(SwarmFixture, "a peer restarted with only dead seeds rejoins through the members it remembers") {
  REQUIRE(start_three_training(swarm));
  Peer& seed = swarm.peers()[0];  // everyone's seed: it goes for good
  Peer& keeper = swarm.peers()[1];
  Peer& back = swarm.peers()[2];
  const std::string dead_seed = seed.address;
  REQUIRE(eventually(60s, [&] { return last_checkpoint(back) >= 50; }));  // so its log is kept on restart
  seed.process->signal(SIGKILL);
  seed.process->wait(5s);
  seed.process.reset();
  back.process->signal(SIGKILL);
  back.process->wait(5s);
  REQUIRE(eventually(15s, [&] { return current_view(keeper) == 1; }));

  const std::size_t lines_before = read_json_lines(back.log).size();
  back.address = "tcp://127.0.0.1:" + std::to_string(free_port());
  swarm.start(back, dead_seed);
  CHECK(eventually(20s, [&] {
    const auto members = current_members(keeper);
    return members.size() == 2 && holds(members, back.address);
  }));
  const json start = first_lines(back, "start", lines_before).event;
  REQUIRE_FALSE(start.is_null());
  CHECK(start["remembered"].get<int>() >= 1);
  CHECK(eventually(10s, [&] {
    const auto members = current_members(back);
    return members.size() == 2 && holds(members, keeper.address);
  }));
  stop_all(swarm);
}
