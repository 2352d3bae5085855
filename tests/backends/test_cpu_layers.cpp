// The CPU backend's layer ops: forward passes against naive double-precision loops, backward
// passes against central differences of the forward pass, and the op contracts (gradients
// overwritten, dy masked in place, dx optional).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "foundations/backends/backend.h"
#include "tests/backends/gradient_check.h"

using chorus::Activation;
using chorus_test::check_gradient;
using chorus_test::GradientReport;
using chorus_test::random_floats;
using chorus_test::Tolerance;
using chorus_test::weighted_sum;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

std::string act_name(Activation act) { return act == Activation::relu ? "relu" : "none"; }

// The ReLU mask of an output, as a pattern for check_gradient.
std::vector<std::int32_t> positive_mask(const std::vector<float>& y) {
  std::vector<std::int32_t> mask(y.size());
  for (std::size_t i = 0; i < y.size(); ++i) mask[i] = y[i] > 0.0f;
  return mask;
}

void expect_close(const std::vector<float>& got, const std::vector<double>& want, double tol,
                  const char* what) {
  REQUIRE(got.size() == want.size());
  int bad = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (!(std::fabs(got[i] - want[i]) <= tol * (1.0 + std::fabs(want[i]))) && ++bad <= 3)
      FAIL_CHECK(what << "[" << i << "] = " << got[i] << ", expected " << want[i]);
  }
}

// A kink-free majority: the checks must have compared most entries, and a non-trivial
// gradient (a test of all-zero gradients proves nothing).
void expect_meaningful(const GradientReport& r, const std::string& what) {
  CAPTURE(what);
  CHECK(r.compared > 0);
  CHECK(r.skipped <= r.compared / 4 + 1);
  CHECK(r.analytic_max_abs > 1e-3);
  CHECK(r.failed == 0);
}

// ---------------------------------------------------------------- linear

struct LinearCase {
  int batch, in, out;
  Activation act;
};

void check_linear(const LinearCase& c) {
  CAPTURE(c.batch);
  CAPTURE(c.in);
  CAPTURE(c.out);
  CAPTURE(act_name(c.act));
  auto backend = chorus::make_cpu_backend();
  auto x = random_floats(static_cast<std::size_t>(c.batch) * c.in, 1);
  auto w = random_floats(static_cast<std::size_t>(c.out) * c.in, 2, -0.5f, 0.5f);
  auto b = random_floats(c.out, 3, -0.5f, 0.5f);
  const auto r = random_floats(static_cast<std::size_t>(c.batch) * c.out, 4);
  std::vector<float> y(static_cast<std::size_t>(c.batch) * c.out, kNaN);

  backend->linear_forward(x.data(), w.data(), b.data(), y.data(), c.batch, c.in, c.out, c.act);
  std::vector<double> want(y.size());
  for (int n = 0; n < c.batch; ++n) {
    for (int o = 0; o < c.out; ++o) {
      double s = b[o];
      for (int i = 0; i < c.in; ++i) s += static_cast<double>(x[n * c.in + i]) * w[o * c.in + i];
      want[n * c.out + o] = c.act == Activation::relu ? std::max(s, 0.0) : s;
    }
  }
  expect_close(y, want, 1e-5, "linear y");

  // Backward with dy = r (the gradient of sum(r .* y)); outputs pre-filled with NaN so any
  // entry left unwritten or accumulated into shows up.
  std::vector<float> dy = r, dx(x.size(), kNaN), dw(w.size(), kNaN), db(b.size(), kNaN);
  backend->linear_backward(x.data(), w.data(), y.data(), dy.data(), dx.data(), dw.data(),
                           db.data(), c.batch, c.in, c.out, c.act);
  for (std::size_t i = 0; i < dy.size(); ++i) {
    const float expect = c.act == Activation::relu && !(y[i] > 0.0f) ? 0.0f : r[i];
    if (dy[i] != expect) {
      FAIL_CHECK("dy not masked in place at " << i);
      break;
    }
  }

  std::vector<float> y2(y.size());
  auto loss = [&] {
    backend->linear_forward(x.data(), w.data(), b.data(), y2.data(), c.batch, c.in, c.out, c.act);
    return weighted_sum(y2.data(), r);
  };
  chorus_test::Pattern pattern = nullptr;
  if (c.act == Activation::relu) pattern = [&] { return positive_mask(y2); };
  const Tolerance tol{1e-2f, 1e-2, 1e-4};
  auto all = [](std::size_t n) { return chorus_test::sample_indices(n, n, 0); };
  expect_meaningful(check_gradient("dx", x, dx, all(x.size()), loss, tol, pattern), "dx");
  expect_meaningful(check_gradient("dw", w, dw, all(w.size()), loss, tol, pattern), "dw");
  expect_meaningful(check_gradient("db", b, db, all(b.size()), loss, tol, pattern), "db");

  // dx is optional, and leaving it out changes nothing else.
  std::vector<float> dy2 = r, dw2(w.size(), kNaN), db2(b.size(), kNaN);
  backend->linear_backward(x.data(), w.data(), y.data(), dy2.data(), nullptr, dw2.data(),
                           db2.data(), c.batch, c.in, c.out, c.act);
  CHECK(dw2 == dw);
  CHECK(db2 == db);
}

TEST_CASE("linear forward and backward") {
  for (Activation act : {Activation::none, Activation::relu}) {
    check_linear({1, 5, 3, act});
    check_linear({4, 17, 9, act});
    check_linear({13, 30, 21, act});
  }
}

// ---------------------------------------------------------------- conv2d

// y (N, OC, OH, OW) by the definition, in double.
std::vector<double> naive_conv(const std::vector<float>& x, const std::vector<float>& w,
                               const std::vector<float>& b, const chorus::ConvShape& s,
                               Activation act) {
  const int oh_n = s.out_height(), ow_n = s.out_width(), k = s.kernel;
  std::vector<double> y(static_cast<std::size_t>(s.batch) * s.out_channels * oh_n * ow_n);
  std::size_t at = 0;
  for (int n = 0; n < s.batch; ++n)
    for (int oc = 0; oc < s.out_channels; ++oc)
      for (int oh = 0; oh < oh_n; ++oh)
        for (int ow = 0; ow < ow_n; ++ow) {
          double sum = b[oc];
          for (int c = 0; c < s.in_channels; ++c)
            for (int i = 0; i < k; ++i)
              for (int j = 0; j < k; ++j) {
                const int ih = oh * s.stride - s.pad + i, iw = ow * s.stride - s.pad + j;
                if (ih < 0 || ih >= s.height || iw < 0 || iw >= s.width) continue;
                sum += static_cast<double>(
                           x[((static_cast<std::size_t>(n) * s.in_channels + c) * s.height + ih) *
                                 s.width +
                             iw]) *
                       w[((static_cast<std::size_t>(oc) * s.in_channels + c) * k + i) * k + j];
              }
          y[at++] = act == Activation::relu ? std::max(sum, 0.0) : sum;
        }
  return y;
}

void check_conv(const chorus::ConvShape& s, Activation act, std::size_t max_checked) {
  INFO("batch ", s.batch, ", C ", s.in_channels, ", H ", s.height, ", W ", s.width, ", OC ", s.out_channels, ", K ",
       s.kernel, ", stride ", s.stride, ", pad ", s.pad);
  CAPTURE(act_name(act));
  auto backend = chorus::make_cpu_backend();
  const std::size_t x_n = static_cast<std::size_t>(s.batch) * s.in_channels * s.height * s.width;
  const std::size_t w_n = static_cast<std::size_t>(s.out_channels) * s.in_channels * s.kernel *
                          s.kernel;
  const std::size_t y_n = static_cast<std::size_t>(s.batch) * s.out_channels * s.out_height() *
                          s.out_width();
  auto x = random_floats(x_n, 21);
  auto w = random_floats(w_n, 22, -0.5f, 0.5f);
  auto b = random_floats(s.out_channels, 23, -0.3f, 0.3f);
  const auto r = random_floats(y_n, 24);
  // The workspace is exactly what the shape asks for; NaN so stale contents would show.
  std::vector<float> workspace(s.workspace_floats(), kNaN);
  std::vector<float> y(y_n, kNaN);

  backend->conv2d_forward(x.data(), w.data(), b.data(), y.data(), s, act, workspace.data());
  expect_close(y, naive_conv(x, w, b, s, act), 1e-5, "conv y");

  std::vector<float> dy = r, dx(x_n, kNaN), dw(w_n, kNaN), db(b.size(), kNaN);
  backend->conv2d_backward(x.data(), w.data(), y.data(), dy.data(), dx.data(), dw.data(),
                           db.data(), s, act, workspace.data());

  std::vector<float> y2(y_n);
  auto loss = [&] {
    backend->conv2d_forward(x.data(), w.data(), b.data(), y2.data(), s, act, workspace.data());
    return weighted_sum(y2.data(), r);
  };
  chorus_test::Pattern pattern = nullptr;
  if (act == Activation::relu) pattern = [&] { return positive_mask(y2); };
  const Tolerance tol{1e-2f, 1e-2, 1e-4};
  using chorus_test::sample_indices;
  expect_meaningful(
      check_gradient("dx", x, dx, sample_indices(x_n, max_checked, 5), loss, tol, pattern), "dx");
  expect_meaningful(
      check_gradient("dw", w, dw, sample_indices(w_n, max_checked, 6), loss, tol, pattern), "dw");
  expect_meaningful(check_gradient("db", b, db, sample_indices(b.size(), b.size(), 0), loss, tol,
                                   pattern),
                    "db");

  // dx is optional (the first layer), and leaving it out changes nothing else.
  std::vector<float> dy2 = r, dw2(w_n, kNaN), db2(b.size(), kNaN);
  backend->conv2d_backward(x.data(), w.data(), y.data(), dy2.data(), nullptr, dw2.data(),
                           db2.data(), s, act, workspace.data());
  CHECK(dw2 == dw);
  CHECK(db2 == db);
}

TEST_CASE("conv2d forward and backward over stride, padding and size variants") {
  const chorus::ConvShape cases[] = {
      // batch, C, H, W, OC, K, stride, pad
      {3, 1, 12, 12, 4, 5, 1, 2},  // the models' 5x5 "same" convolution, smaller
      {1, 2, 6, 6, 3, 3, 1, 0},    // one image, no padding
      {5, 3, 7, 9, 4, 3, 2, 1},    // odd, non-square input, stride 2
      {2, 2, 5, 8, 3, 4, 3, 2},    // even kernel, stride 3, padding wider than it divides
      {4, 3, 5, 5, 2, 1, 1, 0},    // 1x1 kernel
      {2, 1, 3, 3, 2, 5, 1, 2},    // kernel larger than the image, padded
      {2, 2, 4, 4, 5, 3, 2, 0},    // stride leaves pixels unread (they get zero gradient)
      {37, 2, 5, 5, 3, 3, 1, 1},   // more images than one lowering chunk holds
  };
  for (const auto& c : cases) {
    for (Activation act : {Activation::none, Activation::relu}) check_conv(c, act, 120);
  }
}

TEST_CASE("conv2d lowers batches in chunks that give the same result as one image at a time") {
  chorus::ConvShape s;
  s.batch = 70;
  s.in_channels = 3;
  s.height = s.width = 6;
  s.out_channels = 4;
  s.kernel = 3;
  s.pad = 1;
  auto backend = chorus::make_cpu_backend();
  const std::size_t in_image = 3 * 36, out_image = 4 * 36;
  auto x = random_floats(in_image * s.batch, 31);
  auto w = random_floats(4 * 27, 32);
  auto b = random_floats(4, 33);
  auto r = random_floats(out_image * s.batch, 34);
  std::vector<float> ws(s.workspace_floats()), y(out_image * s.batch);
  std::vector<float> dy = r, dx(x.size()), dw(w.size()), db(4);
  backend->conv2d_forward(x.data(), w.data(), b.data(), y.data(), s, Activation::relu, ws.data());
  backend->conv2d_backward(x.data(), w.data(), y.data(), dy.data(), dx.data(), dw.data(),
                           db.data(), s, Activation::relu, ws.data());

  chorus::ConvShape one = s;
  one.batch = 1;
  std::vector<float> ws1(one.workspace_floats()), y1(out_image), dx1(in_image), dw1(w.size()),
      db1(4);
  std::vector<double> dw_sum(w.size(), 0.0), db_sum(4, 0.0);
  for (int n = 0; n < s.batch; ++n) {
    backend->conv2d_forward(x.data() + n * in_image, w.data(), b.data(), y1.data(), one,
                            Activation::relu, ws1.data());
    for (std::size_t i = 0; i < out_image; ++i)
      REQUIRE(y1[i] == doctest::Approx(y[n * out_image + i]).epsilon(1e-5));
    std::vector<float> dy1(r.begin() + n * out_image, r.begin() + (n + 1) * out_image);
    backend->conv2d_backward(x.data() + n * in_image, w.data(), y1.data(), dy1.data(), dx1.data(),
                             dw1.data(), db1.data(), one, Activation::relu, ws1.data());
    for (std::size_t i = 0; i < in_image; ++i)
      REQUIRE(dx1[i] == doctest::Approx(dx[n * in_image + i]).epsilon(1e-5));
    for (std::size_t i = 0; i < w.size(); ++i) dw_sum[i] += dw1[i];
    for (int i = 0; i < 4; ++i) db_sum[i] += db1[i];
  }
  std::vector<double> dw_want(dw_sum), db_want(db_sum);
  expect_close(dw, dw_want, 1e-4, "dw");
  expect_close(db, db_want, 1e-4, "db");
}

// ---------------------------------------------------------------- maxpool2d

// Inputs whose values are pairwise at least `gap` apart, so a small perturbation never
// changes which element of a window is the largest.
std::vector<float> separated_values(std::size_t n, float gap, std::uint64_t seed) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), 0.0f);
  std::mt19937_64 rng(seed);
  std::shuffle(v.begin(), v.end(), rng);
  for (auto& x : v) x = (x - static_cast<float>(n) / 2) * gap;
  return v;
}

void check_maxpool(const chorus::PoolShape& s) {
  CAPTURE(s.batch);
  CAPTURE(s.channels);
  CAPTURE(s.height);
  CAPTURE(s.width);
  CAPTURE(s.window);
  auto backend = chorus::make_cpu_backend();
  const std::size_t in_n = static_cast<std::size_t>(s.batch) * s.channels * s.height * s.width;
  const std::size_t out_n = static_cast<std::size_t>(s.batch) * s.channels * s.out_height() *
                            s.out_width();
  auto x = separated_values(in_n, 0.05f, 41);
  std::vector<float> y(out_n, kNaN);
  std::vector<std::int32_t> argmax(out_n, -1);
  backend->maxpool2d_forward(x.data(), y.data(), argmax.data(), s);

  std::size_t o = 0;
  for (int p = 0; p < s.batch * s.channels; ++p)
    for (int oh = 0; oh < s.out_height(); ++oh)
      for (int ow = 0; ow < s.out_width(); ++ow, ++o) {
        std::size_t best = 0;
        float best_v = -std::numeric_limits<float>::infinity();
        for (int i = 0; i < s.window; ++i)
          for (int j = 0; j < s.window; ++j) {
            const std::size_t at =
                (static_cast<std::size_t>(p) * s.height + oh * s.window + i) * s.width +
                ow * s.window + j;
            if (x[at] > best_v) best_v = x[at], best = at;
          }
        REQUIRE(y[o] == best_v);
        REQUIRE(argmax[o] == static_cast<std::int32_t>(best));
      }

  const auto r = random_floats(out_n, 42);
  std::vector<float> dx(in_n, kNaN);
  backend->maxpool2d_backward(r.data(), argmax.data(), dx.data(), s);
  std::vector<float> y2(out_n);
  std::vector<std::int32_t> arg2(out_n);
  auto loss = [&] {
    backend->maxpool2d_forward(x.data(), y2.data(), arg2.data(), s);
    return weighted_sum(y2.data(), r);
  };
  auto pattern = [&] { return arg2; };
  const Tolerance tol{1e-2f, 1e-3, 1e-5};
  const auto report = check_gradient("dx", x, dx, chorus_test::sample_indices(in_n, in_n, 0), loss,
                                     tol, pattern);
  CHECK(report.failed == 0);
  CHECK(report.skipped == 0);  // the values are separated by more than 2 eps
  // Pixels outside every window (odd edges) and non-maxima get exactly zero.
  std::size_t zeros = 0;
  for (float d : dx) zeros += d == 0.0f;
  CHECK(zeros == in_n - out_n);
}

TEST_CASE("maxpool2d forward and backward") {
  check_maxpool({1, 1, 4, 4, 2});
  check_maxpool({3, 4, 28, 28, 2});
  check_maxpool({2, 3, 7, 5, 2});  // odd sizes: the last row and column are dropped
  check_maxpool({2, 2, 9, 7, 3});  // window 3
}

TEST_CASE("maxpool2d picks the first of equal maxima") {
  auto backend = chorus::make_cpu_backend();
  const chorus::PoolShape s{1, 1, 2, 4, 2};
  const std::vector<float> x = {1, 3, 5, 5, 3, 2, 5, 5};
  std::vector<float> y(2);
  std::vector<std::int32_t> argmax(2);
  backend->maxpool2d_forward(x.data(), y.data(), argmax.data(), s);
  CHECK(y == std::vector<float>{3, 5});
  CHECK(argmax == std::vector<std::int32_t>{1, 2});
}

// ---------------------------------------------------------------- softmax_xent

void check_softmax_xent(int batch, int classes, float scale) {
  CAPTURE(batch);
  CAPTURE(classes);
  CAPTURE(scale);
  auto backend = chorus::make_cpu_backend();
  auto logits = random_floats(static_cast<std::size_t>(batch) * classes, 51, -scale, scale);
  std::vector<std::int32_t> labels(batch);
  for (int i = 0; i < batch; ++i) labels[i] = (i * 7 + 3) % classes;
  // Make some rows right: their label gets the largest logit.
  for (int i = 0; i < batch; i += 3) logits[i * classes + labels[i]] = 2.0f * scale;

  double want_loss = 0.0;
  int want_correct = 0;
  for (int i = 0; i < batch; ++i) {
    const float* row = logits.data() + i * classes;
    double top = row[0];
    int best = 0;
    for (int j = 1; j < classes; ++j)
      if (row[j] > top) top = row[j], best = j;
    double sum = 0.0;
    for (int j = 0; j < classes; ++j) sum += std::exp(row[j] - top);
    want_loss += top + std::log(sum) - row[labels[i]];
    want_correct += best == labels[i];
  }
  want_loss /= batch;

  std::vector<float> dlogits(logits.size(), kNaN);
  float loss = kNaN, correct = kNaN;
  backend->softmax_xent(logits.data(), labels.data(), dlogits.data(), &loss, &correct, batch,
                        classes);
  CHECK(std::isfinite(loss));
  CHECK(loss == doctest::Approx(want_loss).epsilon(1e-5));
  CHECK(correct == static_cast<float>(want_correct));
  CHECK(want_correct > 0);
  for (int i = 0; i < batch; ++i) {
    double row_sum = 0.0;
    for (int j = 0; j < classes; ++j) row_sum += dlogits[i * classes + j];
    CHECK(std::fabs(row_sum) < 1e-6);  // softmax sums to one, the one-hot too
  }

  float loss2 = kNaN, correct2 = kNaN;
  auto f = [&] {
    backend->softmax_xent(logits.data(), labels.data(), nullptr, &loss2, &correct2, batch,
                          classes);
    return static_cast<double>(loss2);
  };
  CHECK(f() == static_cast<double>(loss));  // dlogits is optional
  CHECK(correct2 == correct);

  if (scale <= 10.0f) {
    const Tolerance tol{1e-2f, 2e-2, 2e-4};
    const auto report = check_gradient("dlogits", logits, dlogits,
                                       chorus_test::sample_indices(logits.size(), 200, 7), f, tol);
    CHECK(report.failed == 0);
    CHECK(report.analytic_max_abs > 1e-3);
  }
}

TEST_CASE("softmax cross-entropy") {
  check_softmax_xent(1, 10, 3.0f);
  check_softmax_xent(7, 10, 3.0f);
  check_softmax_xent(33, 4, 1.0f);
  check_softmax_xent(5, 10, 1000.0f);  // would overflow exp() without the max subtraction
}

TEST_CASE("softmax cross-entropy of a known case") {
  auto backend = chorus::make_cpu_backend();
  // Uniform logits: loss log(4) whatever the label; argmax is the first class.
  const std::vector<float> logits = {0, 0, 0, 0, 5, 5, 5, 5};
  const std::vector<std::int32_t> labels = {0, 2};
  std::vector<float> d(8);
  float loss = 0, correct = 0;
  backend->softmax_xent(logits.data(), labels.data(), d.data(), &loss, &correct, 2, 4);
  CHECK(loss == doctest::Approx(std::log(4.0)));
  CHECK(correct == 1.0f);
  CHECK(d[0] == doctest::Approx((0.25 - 1.0) / 2));
  CHECK(d[1] == doctest::Approx(0.25 / 2));
  CHECK(d[6] == doctest::Approx((0.25 - 1.0) / 2));
}

}  // namespace
