// The invariants of chorus chaos (tools/chorus/chaos_invariants.h) on log lines made up here:
// each one holds on a well-behaved peer and catches its violation, with the evidence.
#include <doctest/doctest.h>

#include <cmath>

#include "tools/chorus/chaos_invariants.h"

using namespace chorus::tools;
using nlohmann::json;

namespace {

struct Swarm {
  ChaosChecker checker{ChaosBounds{}};  // 10 s floor, 3 s suspicion (loopback), 30 s to start
  std::vector<PeerState> peers;

  explicit Swarm(int n) : peers(static_cast<std::size_t>(n)) {
    for (int i = 0; i < n; ++i) {
      auto& p = peers[static_cast<std::size_t>(i)];
      p.index = i;
      p.address = "tcp://127.0.0.1:" + std::to_string(7000 + i);
      p.started = true;
    }
  }
  PeerState& at(int i) { return peers[static_cast<std::size_t>(i)]; }
  void launch(int i, double now) {
    ++at(i).launches;
    at(i).exit_code = -1;
    checker.launched(at(i), now);
  }
  void step(int i, double now, std::int64_t step, json loss = 0.5) {
    checker.line(at(i), {{"t", now}, {"step", step}, {"loss", loss}}, now);
  }
  void event(int i, double now, json fields) {
    fields["t"] = now;
    checker.line(at(i), fields, now);
  }
  void exit(int i, double now, int code, const std::string& cause) {
    at(i).exit_code = code;
    checker.exited(at(i), PeerExit{i, at(i).launches, now, code, cause});
  }
  InvariantResult result(int invariant) const { return checker.results()[static_cast<std::size_t>(invariant - 1)]; }
};

}  // namespace

TEST_CASE("1: a peer that stops stepping is caught once, after the bound; pauses and start-up are allowed for") {
  Swarm s(2);
  s.launch(0, 0);
  s.launch(1, 0);
  s.step(0, 1, 10);
  s.step(1, 1, 10);
  s.checker.check_progress(10.5);
  CHECK(s.result(1).pass);
  s.checker.paused(s.at(1), 2);  // peer 1 paused: exempt until it continues
  s.step(0, 10.8, 20);
  s.checker.check_progress(11.5);
  CHECK(s.result(1).pass);
  s.checker.check_progress(21.5);  // peer 0: no step since 10.8
  REQUIRE(s.result(1).evidence.size() == 1);
  CHECK(s.result(1).evidence[0].find("peer 0") != std::string::npos);
  CHECK(s.result(1).evidence[0].find("last step 20") != std::string::npos);
  s.checker.check_progress(30);  // the same gap is reported once
  CHECK(s.result(1).evidence.size() == 1);
  s.checker.continued(s.at(1), 30);
  s.checker.check_progress(39);
  CHECK(s.result(1).evidence.size() == 1);
  s.checker.check_progress(41);
  CHECK(s.result(1).evidence.size() == 2);

  Swarm late(1);  // a new process gets 30 s more for its first step
  late.launch(0, 0);
  late.checker.check_progress(39);
  CHECK(late.result(1).pass);
  late.checker.check_progress(41);
  CHECK(!late.result(1).pass);
}

TEST_CASE("1: a peer that left, finished or was sent SIGTERM is not expected to step") {
  Swarm s(3);
  for (int i = 0; i < 3; ++i) s.launch(i, 0), s.step(i, 1, 1);
  s.event(0, 2, {{"event", "leave"}, {"member", "abc"}, {"address", s.at(2).address}});  // another's leave
  s.event(1, 2, {{"event", "leave"}, {"reason", "done"}});                                  // its own
  s.checker.leaving(2);
  s.checker.check_progress(20);
  REQUIRE(s.result(1).evidence.size() == 1);
  CHECK(s.result(1).evidence[0].find("peer 0") != std::string::npos);
}

TEST_CASE("2: a collective longer than twice the suspicion timeout, less the peer's own pause") {
  Swarm s(2);
  s.launch(0, 0);
  s.launch(1, 0);
  s.event(0, 5, {{"event", "collective"}, {"seconds", 5.5}, {"round", 3}, {"status", "done"}});
  CHECK(s.result(2).pass);
  s.event(0, 20, {{"event", "collective"}, {"seconds", 6.5}, {"round", 4}, {"status", "failed"}});
  REQUIRE(s.result(2).evidence.size() == 1);
  CHECK(s.result(2).evidence[0].find("round 4") != std::string::npos);
  s.checker.paused(s.at(1), 30);
  s.checker.continued(s.at(1), 33);
  s.event(1, 35, {{"event", "collective"}, {"seconds", 8.0}, {"round", 5}, {"status", "done"}});  // 3 s paused
  CHECK(s.result(2).evidence.size() == 1);
}

TEST_CASE("3: one view means every live peer holds exactly the live peers") {
  Swarm s(3);
  for (int i = 0; i < 3; ++i) s.launch(i, 0);
  const json all = {s.at(0).address, s.at(1).address, s.at(2).address};
  std::string why;
  CHECK(!s.checker.views_agree(s.peers, &why));  // no views yet
  for (int i = 0; i < 3; ++i) s.event(i, 1, {{"event", "view"}, {"members", all}});
  CHECK(s.checker.views_agree(s.peers, &why));
  s.exit(2, 2, 137, "kill");  // peers 0 and 1 still hold the dead peer 2
  CHECK(!s.checker.views_agree(s.peers, &why));
  CHECK(why.find("not the live set") != std::string::npos);
  const json two = {s.at(0).address, s.at(1).address};
  s.event(0, 3, {{"event", "view"}, {"members", two}});
  s.event(1, 3, {{"event", "view"}, {"members", two}});
  CHECK(s.checker.views_agree(s.peers, &why));
  s.checker.record_views(true, 3, why);
  CHECK(s.result(3).pass);
}

TEST_CASE("4: a loss that is not a finite number") {
  Swarm s(1);
  s.launch(0, 0);
  s.step(0, 1, 1, 0.7);
  CHECK(s.result(4).pass);
  s.step(0, 2, 2, nullptr);  // how a NaN is written in JSON
  REQUIRE(s.result(4).evidence.size() == 1);
  CHECK(s.result(4).evidence[0].find("loss null") != std::string::npos);
}

TEST_CASE("5: a restart resumes at or after its last logged checkpoint") {
  Swarm s(1);
  s.launch(0, 0);
  s.event(0, 1, {{"event", "checkpoint"}, {"step", 200}});
  s.exit(0, 2, 137, "kill");
  s.launch(0, 3);
  s.event(0, 4, {{"event", "resume"}, {"step", 200}});
  CHECK(s.result(5).pass);
  s.exit(0, 5, 137, "restart");  // no checkpoint in the second life: the first one still counts
  s.launch(0, 6);
  s.event(0, 7, {{"event", "resume"}, {"step", 100}});
  REQUIRE(s.result(5).evidence.size() == 1);
  CHECK(s.result(5).evidence[0].find("behind its checkpoint at step 200") != std::string::npos);
  s.exit(0, 8, 137, "kill");
  s.launch(0, 9);
  s.step(0, 10, 5);  // stepping without a resume
  CHECK(s.result(5).evidence.size() == 2);
}

TEST_CASE("6: an error exit counts unless the runner killed the peer") {
  Swarm s(4);
  for (int i = 0; i < 4; ++i) s.launch(i, 0);
  s.exit(0, 1, 137, "kill");
  s.exit(1, 1, 0, "term");
  s.exit(2, 1, 137, "kill_all");
  CHECK(s.result(6).pass);
  s.exit(3, 2, 1, "");
  REQUIRE(s.result(6).evidence.size() == 1);
  CHECK(s.result(6).evidence[0].find("peer 3 (launch 1") != std::string::npos);
  CHECK(s.result(6).evidence[0].find("code 1") != std::string::npos);
  CHECK(s.checker.take_news().size() == 1);
}

TEST_CASE("steps per second are summed over the peers within a window") {
  Swarm s(2);
  s.launch(0, 0);
  s.launch(1, 0);
  s.checker.set_window("baseline", 10, 20);
  s.step(0, 9, 100);
  s.step(1, 9, 100);
  s.step(0, 15, 200);  // +100
  s.step(1, 19, 150);  // +50
  s.step(0, 25, 900);  // outside
  CHECK(s.checker.steps_per_s("baseline") == doctest::Approx(15.0));
  CHECK(std::isnan(s.checker.steps_per_s("faults")));
}
