// Faults during a collective, on the in-process transport: a member killed at each named point
// of an attempt (its thread stops there and the view drops it, as membership would) leaves
// every survivor with the same result — the survivors' sum, or the sum over all members when
// the dead member's values had already gone out and a survivor finished the round — and the
// next round runs among the survivors. Also: a member that joins takes part from a later
// round, and a member that fell behind catches up without anybody hanging.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "tests/ring/ring_fixture.h"

using namespace chorus;
using namespace ring_test;
using namespace std::chrono_literals;

namespace {

struct Killed {};

struct DeathPoint {
  RingPoint point;
  std::size_t step;   // ring step (as reported to the hook)
  std::size_t chunk;  // chunk within the segment
  bool survivors_only;  // the result must be the survivors' sum (nobody can have finished)
  const char* name;
};

std::vector<float> sum_of(const std::vector<std::size_t>& members, std::size_t length, std::uint64_t round) {
  std::vector<float> s(length, 0.0f);
  for (std::size_t i : members)
    for (std::size_t k = 0; k < length; ++k) s[k] += value(i, k, round);
  return s;
}

struct MemberLog {
  bool killed = false;
  CollectiveOutcome first, second;
  std::vector<float> first_values, second_values;
};

}  // namespace

TEST_CASE("a member killed at each named point leaves the survivors with one consistent result") {
  constexpr std::size_t kLength = 1000;  // 16-element chunks: several per segment
  for (std::size_t n : {std::size_t{3}, std::size_t{5}}) {
    const std::size_t last_rs_step = n - 3, last_chunk = (kLength / n) / 16;
    const std::vector<DeathPoint> points = {
        {RingPoint::reduce_scatter_begin, 0, 0, true, "before sending anything"},
        {RingPoint::reduce_scatter_chunk, 0, 0, true, "first reduce-scatter chunk"},
        {RingPoint::reduce_scatter_chunk, last_rs_step, 1, true, "late in reduce-scatter"},
        {RingPoint::all_gather_begin, 0, 0, true, "own segment final, none of it sent"},
        {RingPoint::all_gather_chunk, 0, 0, false, "first all-gather chunk"},
        {RingPoint::all_gather_chunk, n - 2, last_chunk, false, "last all-gather chunk"},
        {RingPoint::end, 0, 0, false, "holding the result"},
    };
    for (const DeathPoint& dp : points)
      for (std::size_t victim : {std::size_t{0}, n - 1}) {
        CAPTURE(n);
        CAPTURE(victim);
        CAPTURE(dp.name);
        std::atomic<bool> armed{true};
        const auto options_of = [&](std::size_t i) {
          RingOptions o;
          o.chunk_bytes = 64;
          o.poll_interval = 5ms;
          if (i == victim)
            o.hook = [&, dp](RingPoint p, std::size_t step, std::size_t chunk) {
              if (armed && p == dp.point && step == dp.step && chunk == dp.chunk) {
                armed = false;
                throw Killed{};
              }
            };
          return o;
        };
        InprocRing ring(n, std::string("kill-") + std::to_string(n) + "-" + std::to_string(victim) + "-" +
                               ring_point_name(dp.point) + std::to_string(dp.step), options_of);
        std::vector<MemberLog> logs(n);
        std::atomic<std::size_t> finished{0};
        on_each(n, [&](std::size_t i) {
          MemberLog& log = logs[i];
          log.first_values.resize(kLength);
          for (std::size_t k = 0; k < kLength; ++k) log.first_values[k] = value(i, k, 1);
          try {
            log.first = ring.ring(i).allreduce(log.first_values, ring.request(1));
          } catch (const Killed&) {
            log.killed = true;
            ring.kill(i);
            ++finished;
            return;
          }
          log.second_values.resize(kLength);
          for (std::size_t k = 0; k < kLength; ++k) log.second_values[k] = value(i, k, 2);
          log.second = ring.ring(i).allreduce(log.second_values, ring.request(2));
          ++finished;
          while (finished < n) ring.ring(i).serve(5ms);  // keep answering, as a training peer does
        });
        REQUIRE(logs[victim].killed);
        std::vector<std::size_t> all, survivors;
        for (std::size_t i = 0; i < n; ++i) {
          all.push_back(i);
          if (i != victim) survivors.push_back(i);
        }
        const auto survivors_sum = sum_of(survivors, kLength, 1), full_sum = sum_of(all, kLength, 1);
        const std::size_t reference = survivors.front();
        if (std::getenv("RING_TEST_VERBOSE"))
          for (std::size_t i : survivors)
            std::fprintf(stderr, "n=%zu victim=%zu %-36s member %zu: contributors %zu attempts %d from_peer %d (%s)\n", n,
                         victim, dp.name, i, logs[i].first.contributors, logs[i].first.attempts,
                         int(logs[i].first.from_peer), logs[i].first.detail.c_str());
        for (std::size_t i : survivors) {
          CAPTURE(i);
          const MemberLog& log = logs[i];
          REQUIRE_MESSAGE(log.first.status == CollectiveStatus::done, log.first.detail);
          CHECK(log.first_values == logs[reference].first_values);
          CHECK(log.first.contributors == logs[reference].first.contributors);
          if (dp.survivors_only || log.first.contributors == n - 1) {
            CHECK(log.first.contributors == n - 1);
            CHECK(log.first_values == survivors_sum);
          } else {
            CHECK(log.first.contributors == n);
            CHECK(log.first_values == full_sum);
          }
          REQUIRE_MESSAGE(log.second.status == CollectiveStatus::done, log.second.detail);
          CHECK(log.second.contributors == n - 1);
          CHECK(log.second_values == sum_of(survivors, kLength, 2));
        }
      }
  }
}

TEST_CASE("a member that joins takes part from a later round on") {
  constexpr std::size_t kOld = 3, kLength = 300, kRounds = 8;
  RingOptions options;
  options.chunk_bytes = 64;
  options.poll_interval = 5ms;
  InprocRing ring(kOld + 1, "join", options);
  ring.leave_out(kOld);  // the joiner is not a member yet
  struct Round {
    CollectiveStatus status = CollectiveStatus::failed;
    std::size_t contributors = 0;
    std::vector<float> values;
  };
  std::vector<std::vector<Round>> rounds(kOld + 1, std::vector<Round>(kRounds + 1));
  std::atomic<std::size_t> finished{0};
  std::atomic<std::uint64_t> member0_round{0};
  on_each(kOld + 1, [&](std::size_t i) {
    std::uint64_t round = 1;
    if (i == kOld) {  // the joiner: admitted once the others are past round 2, starting from round 1
      while (member0_round < 3) std::this_thread::sleep_for(1ms);
      ring.admit(kOld);
    }
    while (round <= kRounds) {
      std::vector<float> data(kLength);
      for (std::size_t k = 0; k < kLength; ++k) data[k] = value(i, k, round);
      const CollectiveOutcome out = ring.ring(i).allreduce(data, ring.request(round));
      if (out.status == CollectiveStatus::skipped) {
        REQUIRE(out.round > round);
        round = out.round;  // continue where the others are
        continue;
      }
      rounds[i][round] = {out.status, out.contributors, data};
      if (i == 0) member0_round = round;
      ++round;
      std::this_thread::sleep_for(20ms);  // a training step between collectives
    }
    ++finished;
    while (finished < kOld + 1) ring.ring(i).serve(5ms);
  });
  std::size_t joined_at = 0;
  for (std::size_t r = 1; r <= kRounds; ++r) {
    CAPTURE(r);
    std::vector<std::size_t> members;
    for (std::size_t i = 0; i < kOld; ++i) {
      REQUIRE(rounds[i][r].status == CollectiveStatus::done);
      CHECK(rounds[i][r].values == rounds[0][r].values);
    }
    const bool with_joiner = rounds[0][r].contributors == kOld + 1;
    for (std::size_t i = 0; i < kOld + with_joiner; ++i) members.push_back(i);
    CHECK(rounds[0][r].values == sum_of(members, kLength, r));
    if (with_joiner) {
      if (!joined_at) joined_at = r;
      CHECK(rounds[kOld][r].status == CollectiveStatus::done);
      CHECK(rounds[kOld][r].values == rounds[0][r].values);
    } else {
      CHECK_MESSAGE(joined_at == 0, "once in, the joiner stays in");
    }
  }
  CHECK(joined_at >= 3);  // it was admitted after round 2
  CHECK(rounds[kOld][kRounds].status == CollectiveStatus::done);
}

TEST_CASE("a dead member that never answers costs the time membership needs, not the timeout") {
  const std::size_t n = 4;
  RingOptions options;
  options.poll_interval = 5ms;
  InprocRing ring(n, "silent", options);
  std::vector<CollectiveOutcome> out(n);
  std::vector<double> seconds(n);
  std::vector<std::vector<float>> data(n, std::vector<float>(5000));
  on_each(n, [&](std::size_t i) {
    for (std::size_t k = 0; k < data[i].size(); ++k) data[i][k] = value(i, k);
    if (i == 2) {  // never takes part; membership drops it after 300 ms
      std::this_thread::sleep_for(300ms);
      ring.kill(2);
      return;
    }
    auto req = ring.request(1);
    req.timeout = 30s;
    const auto t0 = std::chrono::steady_clock::now();
    out[i] = ring.ring(i).allreduce(data[i], req);
    seconds[i] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  });
  for (std::size_t i : {0, 1, 3}) {
    CHECK(out[i].status == CollectiveStatus::done);
    CHECK(out[i].contributors == 3);
    CHECK(seconds[i] < 10.0);  // far below the 30 s timeout
    CHECK(data[i] == sum_of({0, 1, 3}, 5000, 0));
  }
}

TEST_CASE("members whose view is behind are told, and the round completes on the newer view, whoever is behind") {
  // Some of the old members learn of the join late and start the round on the view without
  // the joiner, the others on the one with it. Neither attempt can finish as it began; every
  // member must end with the same result well before the timeout: all four members' sum, or,
  // when every old member was behind, theirs (the joiner is handed it).
  const std::size_t n = 4, length = 2000;
  for (const auto& behind : std::vector<std::vector<std::size_t>>{{1, 2}, {0, 1}, {0, 2}, {2}, {0, 1, 2}}) {
    CAPTURE(behind.size());
    CAPTURE(behind.front());
    CAPTURE(behind.back());
    RingOptions options;
    options.chunk_bytes = 256;
    options.poll_interval = 5ms;
    InprocRing ring(n, "split-" + std::to_string(behind.front()) + std::to_string(behind.back()) +
                           std::to_string(behind.size()), options);
    const RingView newer = ring.views().view();
    RingView older = newer;
    older.number = newer.number - 1;
    older.members.pop_back();  // without member 3, which has just joined
    std::atomic<bool> caught_up{false};
    std::vector<CollectiveOutcome> out(n);
    std::vector<std::vector<float>> data(n, std::vector<float>(length));
    std::vector<double> seconds(n);
    std::atomic<std::size_t> finished{0};
    on_each(n + 1, [&](std::size_t i) {
      if (i == n) {  // their membership learns of the join 300 ms late
        std::this_thread::sleep_for(300ms);
        caught_up = true;
        return;
      }
      for (std::size_t k = 0; k < length; ++k) data[i][k] = value(i, k, 1);
      CollectiveRequest req = ring.request(1);
      if (std::find(behind.begin(), behind.end(), i) != behind.end())
        req.view = [&] { return caught_up ? newer : older; };
      const auto t0 = std::chrono::steady_clock::now();
      out[i] = ring.ring(i).allreduce(data[i], req);
      seconds[i] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      ++finished;
      while (finished < n) ring.ring(i).serve(5ms);  // keep answering, as a training peer does
    });
    const bool all_behind = behind.size() == n - 1;
    const auto expected = all_behind ? sum_of({0, 1, 2}, length, 1) : sum_of({0, 1, 2, 3}, length, 1);
    for (std::size_t i = 0; i < n; ++i) {
      CAPTURE(i);
      CHECK_MESSAGE(out[i].status == CollectiveStatus::done, out[i].detail);
      CHECK(out[i].contributors == (all_behind ? n - 1 : n));
      CHECK(data[i] == expected);
      CHECK(seconds[i] < 5.0);  // not the 20 s timeout
    }
  }
}
