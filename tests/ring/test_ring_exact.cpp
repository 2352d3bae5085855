// The ring all-reduce computes the exact sum (integers in floats) for 1..9 members and buffer
// lengths 0, 1, 7, N-1, 4097 and 1 Mi, on the in-process transport with tiny and automatic
// chunks, and over ZeroMQ on loopback; the average and the weighted average agree on every
// member to the bit.
#include <doctest/doctest.h>

#include <set>

#include "foundations/base/error.h"
#include "foundations/transport/zmq_transport.h"
#include "tests/ring/ring_fixture.h"

using namespace chorus;
using namespace ring_test;

namespace {

RingAttempt attempt_on(InprocRing& ring, std::uint64_t round, ReduceOp op = ReduceOp::sum, double weight = 1.0) {
  RingAttempt a;
  a.scope = collective_scope("exact");
  a.round = round;
  a.view = ring.views().view();
  a.op = op;
  a.weight = weight;
  a.timeout = std::chrono::seconds(30);
  return a;
}

// Members whose buffers differ from `expected`, as "member:first bad element".
std::vector<std::string> mismatches(const std::vector<std::vector<float>>& got, const std::vector<float>& expected) {
  std::vector<std::string> bad;
  for (std::size_t i = 0; i < got.size(); ++i)
    for (std::size_t k = 0; k < expected.size(); ++k)
      if (got[i][k] != expected[k]) {
        bad.push_back(std::to_string(i) + ":" + std::to_string(k));
        break;
      }
  return bad;
}

void check_sum(InprocRing& ring, std::size_t length, std::uint64_t round) {
  const std::size_t n = ring.size();
  std::vector<std::vector<float>> data(n, std::vector<float>(length));
  std::vector<float> expected(length, 0.0f);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t k = 0; k < length; ++k) {
      data[i][k] = value(i, k);
      expected[k] += data[i][k];
    }
  std::vector<RingOutcome> out(n);
  on_each(n, [&](std::size_t i) { out[i] = ring.ring(i).run(data[i], attempt_on(ring, round)); });
  for (std::size_t i = 0; i < n; ++i) CHECK_MESSAGE(out[i].ok(), "member ", i, ": ", ring_status_name(out[i].status), " ", out[i].detail);
  CHECK(mismatches(data, expected).empty());
}

}  // namespace

TEST_CASE("the sum is exact for 1..9 members and lengths 0, 1, 7, N-1, 4097 and 1 Mi") {
  for (std::size_t n = 1; n <= 9; ++n) {
    std::set<std::size_t> lengths = {0, 1, 7, n - 1, 4097, std::size_t{1} << 20};
    for (std::size_t chunk_bytes : {std::size_t{16}, std::size_t{0}}) {
      CAPTURE(n);
      CAPTURE(chunk_bytes);
      RingOptions options;
      options.chunk_bytes = chunk_bytes;
      InprocRing ring(n, "exact-" + std::to_string(n) + "-" + std::to_string(chunk_bytes), options);
      std::uint64_t round = 0;
      for (std::size_t length : lengths) {
        if (chunk_bytes && length > 4097) continue;  // a quarter million 16-byte chunks prove nothing more
        CAPTURE(length);
        check_sum(ring, length, ++round);
      }
    }
  }
}

TEST_CASE("the average and the weighted average are the same on every member") {
  const std::size_t n = 5, length = 1003;
  RingOptions options;
  options.chunk_bytes = 256;
  InprocRing ring(n, "average", options);
  for (bool weighted : {false, true}) {
    CAPTURE(weighted);
    std::vector<std::vector<float>> data(n, std::vector<float>(length));
    std::vector<double> weights(n), expected(length, 0.0);
    double total = 0;
    for (std::size_t i = 0; i < n; ++i) {
      weights[i] = weighted ? 0.5 + static_cast<double>(i) : 1.0;
      total += weights[i];
      for (std::size_t k = 0; k < length; ++k) {
        data[i][k] = value(i, k);
        expected[k] += weights[i] * data[i][k];
      }
    }
    std::vector<RingOutcome> out(n);
    on_each(n, [&](std::size_t i) {
      out[i] = ring.ring(i).run(data[i], attempt_on(ring, weighted ? 2 : 1, ReduceOp::average, weights[i]));
    });
    for (std::size_t i = 0; i < n; ++i) REQUIRE(out[i].ok());
    for (std::size_t i = 1; i < n; ++i) CHECK(data[i] == data[0]);
    std::size_t far = 0;
    for (std::size_t k = 0; k < length; ++k)
      if (std::abs(data[0][k] - expected[k] / total) > 1e-4 * (1 + std::abs(expected[k] / total))) ++far;
    CHECK(far == 0);
    if (!weighted) {  // the plain average is the exact sum times 1/N, rounded once
      std::vector<float> exact(length);
      for (std::size_t k = 0; k < length; ++k)
        exact[k] = static_cast<float>(expected[k]) * static_cast<float>(1.0 / static_cast<double>(n));
      CHECK(mismatches(data, exact).empty());
    }
  }
}

TEST_CASE("a sum with weights is the weighted sum") {
  const std::size_t n = 3, length = 64;
  InprocRing ring(n, "weighted-sum");
  std::vector<std::vector<float>> data(n, std::vector<float>(length));
  std::vector<float> expected(length, 0.0f);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t k = 0; k < length; ++k) {
      data[i][k] = value(i, k);
      expected[k] += static_cast<float>(i + 1) * data[i][k];
    }
  on_each(n, [&](std::size_t i) {
    REQUIRE(ring.ring(i).run(data[i], attempt_on(ring, 1, ReduceOp::sum, static_cast<double>(i + 1))).ok());
  });
  CHECK(mismatches(data, expected).empty());
}

TEST_CASE("the sum is exact over ZeroMQ on loopback (zero-copy sends)") {
  const std::size_t n = 3;
  std::vector<std::unique_ptr<Transport>> transports;
  std::vector<std::unique_ptr<RingAllreduce>> rings;
  RingView view;
  for (std::size_t i = 0; i < n; ++i) {
    TransportConfig c;
    c.address = "tcp://127.0.0.1:*";
    c.log = [](const std::string&) {};
    transports.push_back(make_zmq_transport(c));
    rings.push_back(std::make_unique<RingAllreduce>(*transports.back()));
    view.members.push_back({transports.back()->id(), transports.back()->address()});
  }
  view.number = 1;
  std::uint64_t round = 0;
  for (std::size_t length : {std::size_t{0}, std::size_t{7}, std::size_t{4097}, std::size_t{1} << 20, std::size_t{3} << 20}) {
    CAPTURE(length);
    std::vector<std::vector<float>> data(n, std::vector<float>(length));
    std::vector<float> expected(length, 0.0f);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t k = 0; k < length; ++k) {
        data[i][k] = value(i, k, round);
        expected[k] += data[i][k];
      }
    ++round;
    std::vector<RingOutcome> out(n);
    on_each(n, [&](std::size_t i) {
      RingAttempt a;
      a.scope = 7;
      a.round = round;
      a.view = view;
      a.op = ReduceOp::sum;
      a.timeout = std::chrono::seconds(30);
      out[i] = rings[i]->run(data[i], a);
    });
    for (std::size_t i = 0; i < n; ++i) CHECK_MESSAGE(out[i].ok(), ring_status_name(out[i].status), " ", out[i].detail);
    CHECK(mismatches(data, expected).empty());
  }
}

TEST_CASE("a member list without this peer is a user error") {
  InprocRing ring(2, "not-a-member");
  RingAttempt a = attempt_on(ring, 1);
  a.view.members.pop_back();
  std::vector<float> data(4, 1.0f);
  CHECK_THROWS_AS(ring.ring(1).run(data, a), UserError);
  a.view.members.push_back(a.view.members.front());
  CHECK_THROWS_AS(ring.ring(0).run(data, a), UserError);
}
