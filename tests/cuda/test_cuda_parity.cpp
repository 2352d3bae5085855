// Every op of the CUDA backend against the CPU backend on the same random inputs: GEMM in all
// transpose combinations, the layer ops forward and backward, the optimizer updates and the
// memory/vector ops. Skipped (exit 77) when no CUDA device is usable.
//
// Tolerances (see cuda_test_util.h for the measure, error relative to the tensor's largest
// value), with TF32 off (the backend's default):
// - GEMM-based results (gemm, linear, conv2d): rtol 1e-4. Both sides sum in FP32 in different
//   orders; the observed error is ~1e-6, the bound leaves room for k up to several thousand.
// - Elementwise results (bias/ReLU, softmax, optimizer updates, axpby): rtol 1e-5 (the GPU may
//   fuse a multiply-add where the CPU rounds twice).
// - Pooling values and indices, fill/copy, to_device/to_host and the Rademacher probes:
//   exact equality.
// Backward passes get identical inputs on both sides (x, w, the forward output y and dy), so
// ReLU masks agree exactly.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "foundations/backends/backend.h"
#include "tests/cuda/cuda_test_util.h"

using namespace chorus;
using chorus_cuda_test::expect_close;
using chorus_cuda_test::expect_equal;
using chorus_cuda_test::random_floats;
using chorus_cuda_test::require_cuda;
using chorus_cuda_test::Twin;

namespace {

constexpr double kGemmRtol = 1e-4;
constexpr double kElementwiseRtol = 1e-5;
constexpr double kAtol = 1e-6;

struct Backends {
  std::unique_ptr<Backend> cpu = make_cpu_backend();
  std::unique_ptr<Backend> cuda = make_cuda_backend();
};

std::string act_name(Activation act) { return act == Activation::relu ? "relu" : "none"; }

std::string conv_name(const ConvShape& s) {
  return "conv N" + std::to_string(s.batch) + " C" + std::to_string(s.in_channels) + " " +
         std::to_string(s.height) + "x" + std::to_string(s.width) + " OC" +
         std::to_string(s.out_channels) + " K" + std::to_string(s.kernel) + " S" +
         std::to_string(s.stride) + " P" + std::to_string(s.pad);
}

}  // namespace

TEST_CASE("gemm: all transposes, padded leading dimensions, alpha and beta") {
  require_cuda();
  Backends b;
  const int m = 37, n = 53, k = 71;
  std::uint64_t seed = 100;
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      for (float beta : {0.0f, 0.5f}) {
        const std::string what = std::string("gemm ta=") + (ta ? "T" : "N") +
                                 " tb=" + (tb ? "T" : "N") + " beta=" + std::to_string(beta);
        CAPTURE(what);
        // Stored shapes: A is (m, k) or (k, m) when transposed; likewise B; padding columns.
        const int a_rows = ta ? k : m, a_cols = ta ? m : k, lda = a_cols + 3;
        const int b_rows = tb ? n : k, b_cols = tb ? k : n, ldb = b_cols + 5;
        const int ldc = n + 2;
        Twin<float> a(*b.cpu, *b.cuda, random_floats(std::size_t(a_rows) * lda, ++seed));
        Twin<float> bm(*b.cpu, *b.cuda, random_floats(std::size_t(b_rows) * ldb, ++seed));
        std::vector<float> c0 = random_floats(std::size_t(m) * ldc, ++seed);
        if (beta == 0.0f) {
          // C is not read when beta == 0: NaNs there must not leak into the result.
          for (int i = 0; i < m; ++i) c0[std::size_t(i) * ldc] = std::numeric_limits<float>::quiet_NaN();
        }
        Twin<float> c(*b.cpu, *b.cuda, c0);
        b.cpu->gemm(ta, tb, m, n, k, 0.75f, a.cpu(), lda, bm.cpu(), ldb, beta, c.cpu(), ldc);
        b.cuda->gemm(ta, tb, m, n, k, 0.75f, a.cuda(), lda, bm.cuda(), ldb, beta, c.cuda(), ldc);
        // Compare only the m x n result; the padding columns must be untouched on the GPU.
        const std::vector<float> cc = c.cpu_values(), cg = c.cuda_values();
        std::vector<float> rc, rg;
        for (int i = 0; i < m; ++i) {
          for (int j = 0; j < ldc; ++j) {
            const std::size_t at = std::size_t(i) * ldc + j;
            if (j < n) {
              rc.push_back(cc[at]);
              rg.push_back(cg[at]);
            } else {
              CHECK(cg[at] == c0[at]);
            }
          }
        }
        expect_close(rc, rg, kGemmRtol, kAtol, what);
      }
    }
  }
}

TEST_CASE("gemm: k == 0 scales C by beta, or zeroes it") {
  require_cuda();
  Backends b;
  const int m = 5, n = 7;
  for (float beta : {0.0f, 2.0f}) {
    CAPTURE(beta);
    Twin<float> c(*b.cpu, *b.cuda, random_floats(std::size_t(m) * n, 7));
    b.cpu->gemm(false, false, m, n, 0, 1.0f, nullptr, 1, nullptr, n, beta, c.cpu(), n);
    b.cuda->gemm(false, false, m, n, 0, 1.0f, nullptr, 1, nullptr, n, beta, c.cuda(), n);
    expect_equal(c, "gemm k=0");
  }
}

TEST_CASE("linear forward and backward") {
  require_cuda();
  Backends b;
  const int batch = 33, in = 70, out = 45;
  std::uint64_t seed = 200;
  for (Activation act : {Activation::none, Activation::relu}) {
    for (bool with_dx : {true, false}) {
      const std::string what = "linear " + act_name(act) + (with_dx ? "" : " (no dx)");
      CAPTURE(what);
      Twin<float> x(*b.cpu, *b.cuda, random_floats(std::size_t(batch) * in, ++seed));
      Twin<float> w(*b.cpu, *b.cuda, random_floats(std::size_t(out) * in, ++seed, -0.2f, 0.2f));
      Twin<float> bias(*b.cpu, *b.cuda, random_floats(out, ++seed, -0.2f, 0.2f));
      Twin<float> y(*b.cpu, *b.cuda, std::vector<float>(std::size_t(batch) * out, -7.0f));
      b.cpu->linear_forward(x.cpu(), w.cpu(), bias.cpu(), y.cpu(), batch, in, out, act);
      b.cuda->linear_forward(x.cuda(), w.cuda(), bias.cuda(), y.cuda(), batch, in, out, act);
      expect_close(y, kGemmRtol, kAtol, what + " y");

      // Backward from identical inputs: the CPU's y on both sides.
      const std::vector<float> y_cpu = y.cpu_values();
      if (act == Activation::relu) {
        const auto zeros = std::count(y_cpu.begin(), y_cpu.end(), 0.0f);
        CHECK(zeros > 0);  // the mask is exercised
        CHECK(zeros < static_cast<long>(y_cpu.size()));
      }
      Twin<float> y_in(*b.cpu, *b.cuda, y_cpu);
      Twin<float> dy(*b.cpu, *b.cuda, random_floats(std::size_t(batch) * out, ++seed));
      Twin<float> dx(*b.cpu, *b.cuda, std::vector<float>(std::size_t(batch) * in, 9.0f));
      Twin<float> dw(*b.cpu, *b.cuda, std::vector<float>(std::size_t(out) * in, 9.0f));
      Twin<float> db(*b.cpu, *b.cuda, std::vector<float>(out, 9.0f));
      b.cpu->linear_backward(x.cpu(), w.cpu(), y_in.cpu(), dy.cpu(), with_dx ? dx.cpu() : nullptr,
                             dw.cpu(), db.cpu(), batch, in, out, act);
      b.cuda->linear_backward(x.cuda(), w.cuda(), y_in.cuda(), dy.cuda(),
                              with_dx ? dx.cuda() : nullptr, dw.cuda(), db.cuda(), batch, in,
                              out, act);
      expect_close(dy, kElementwiseRtol, kAtol, what + " dy (masked in place)");
      expect_close(dw, kGemmRtol, kAtol, what + " dw");
      expect_close(db, kGemmRtol, kAtol, what + " db");
      if (with_dx) {
        expect_close(dx, kGemmRtol, kAtol, what + " dx");
      } else {
        const std::vector<float> untouched = dx.cuda_values();
        CHECK(std::all_of(untouched.begin(), untouched.end(), [](float v) { return v == 9.0f; }));
      }
    }
  }
}

TEST_CASE("conv2d forward and backward") {
  require_cuda();
  Backends b;
  // {batch, C, H, W, OC, K, stride, pad}; chosen to cover the model's two convolutions, a
  // batch over the 32-image chunk, stride 2 with non-square input, a 1x2 output, many small
  // chunks, and batches lowered one image at a time (backward with batch <= 3).
  const std::vector<ConvShape> shapes = {
      {3, 1, 28, 28, 16, 5, 1, 2},  {2, 16, 14, 14, 32, 5, 1, 2}, {40, 3, 9, 11, 4, 3, 2, 1},
      {5, 2, 5, 6, 3, 5, 1, 0},     {70, 1, 6, 6, 2, 3, 1, 1},    {1, 4, 7, 7, 8, 3, 1, 1},
  };
  std::uint64_t seed = 300;
  for (const ConvShape& s : shapes) {
    for (Activation act : {Activation::none, Activation::relu}) {
      const std::string what = conv_name(s) + " " + act_name(act);
      CAPTURE(what);
      const std::size_t x_n = std::size_t(s.batch) * s.in_channels * s.height * s.width;
      const std::size_t w_n = std::size_t(s.out_channels) * s.in_channels * s.kernel * s.kernel;
      const std::size_t y_n = std::size_t(s.batch) * s.out_channels * s.out_height() * s.out_width();
      Twin<float> x(*b.cpu, *b.cuda, random_floats(x_n, ++seed));
      Twin<float> w(*b.cpu, *b.cuda, random_floats(w_n, ++seed, -0.3f, 0.3f));
      Twin<float> bias(*b.cpu, *b.cuda, random_floats(s.out_channels, ++seed, -0.3f, 0.3f));
      Twin<float> y(*b.cpu, *b.cuda, std::vector<float>(y_n, -7.0f));
      DeviceBuffer<float> ws_cpu(*b.cpu, s.workspace_floats()), ws_cuda(*b.cuda, s.workspace_floats());
      b.cpu->conv2d_forward(x.cpu(), w.cpu(), bias.cpu(), y.cpu(), s, act, ws_cpu.data());
      b.cuda->conv2d_forward(x.cuda(), w.cuda(), bias.cuda(), y.cuda(), s, act, ws_cuda.data());
      expect_close(y, kGemmRtol, kAtol, what + " y");

      for (bool with_dx : {true, false}) {
        CAPTURE(with_dx);
        Twin<float> y_in(*b.cpu, *b.cuda, y.cpu_values());
        Twin<float> dy(*b.cpu, *b.cuda, random_floats(y_n, ++seed));
        Twin<float> dx(*b.cpu, *b.cuda, std::vector<float>(x_n, 9.0f));
        Twin<float> dw(*b.cpu, *b.cuda, std::vector<float>(w_n, 9.0f));
        Twin<float> db(*b.cpu, *b.cuda, std::vector<float>(s.out_channels, 9.0f));
        b.cpu->conv2d_backward(x.cpu(), w.cpu(), y_in.cpu(), dy.cpu(), with_dx ? dx.cpu() : nullptr,
                               dw.cpu(), db.cpu(), s, act, ws_cpu.data());
        b.cuda->conv2d_backward(x.cuda(), w.cuda(), y_in.cuda(), dy.cuda(),
                                with_dx ? dx.cuda() : nullptr, dw.cuda(), db.cuda(), s, act,
                                ws_cuda.data());
        expect_close(dw, kGemmRtol, kAtol, what + " dw");
        expect_close(db, kGemmRtol, kAtol, what + " db");
        if (with_dx) expect_close(dx, kGemmRtol, kAtol, what + " dx");
      }
    }
  }
}

TEST_CASE("maxpool2d forward and backward are exact") {
  require_cuda();
  Backends b;
  const std::vector<PoolShape> shapes = {
      {3, 5, 8, 10, 2}, {2, 3, 7, 9, 2}, {2, 4, 9, 7, 3}, {4, 16, 28, 28, 2}};
  std::uint64_t seed = 400;
  for (const PoolShape& s : shapes) {
    CAPTURE(s.batch);
    CAPTURE(s.height);
    CAPTURE(s.width);
    CAPTURE(s.window);
    const std::size_t x_n = std::size_t(s.batch) * s.channels * s.height * s.width;
    const std::size_t y_n = std::size_t(s.batch) * s.channels * s.out_height() * s.out_width();
    Twin<float> x(*b.cpu, *b.cuda, random_floats(x_n, ++seed));
    Twin<float> y(*b.cpu, *b.cuda, std::vector<float>(y_n, -7.0f));
    Twin<std::int32_t> argmax(*b.cpu, *b.cuda, std::vector<std::int32_t>(y_n, -1));
    b.cpu->maxpool2d_forward(x.cpu(), y.cpu(), argmax.cpu(), s);
    b.cuda->maxpool2d_forward(x.cuda(), y.cuda(), argmax.cuda(), s);
    expect_equal(y, "maxpool y");
    expect_equal(argmax, "maxpool argmax");

    Twin<float> dy(*b.cpu, *b.cuda, random_floats(y_n, ++seed));
    Twin<float> dx(*b.cpu, *b.cuda, std::vector<float>(x_n, 9.0f));
    b.cpu->maxpool2d_backward(dy.cpu(), argmax.cpu(), dx.cpu(), s);
    b.cuda->maxpool2d_backward(dy.cuda(), argmax.cuda(), dx.cuda(), s);
    expect_equal(dx, "maxpool dx");
  }
}

TEST_CASE("softmax cross-entropy: loss, correct count and dlogits") {
  require_cuda();
  Backends b;
  std::uint64_t seed = 500;
  for (int batch : {1, 37, 300, 1024}) {
    for (bool with_grad : {true, false}) {
      const int classes = 10;
      CAPTURE(batch);
      CAPTURE(with_grad);
      Twin<float> logits(*b.cpu, *b.cuda,
                         random_floats(std::size_t(batch) * classes, ++seed, -4.0f, 4.0f));
      std::vector<std::int32_t> labels(batch);
      std::mt19937_64 rng(++seed);
      for (auto& l : labels) l = static_cast<std::int32_t>(rng() % classes);
      Twin<std::int32_t> label_buf(*b.cpu, *b.cuda, labels);
      Twin<float> dlogits(*b.cpu, *b.cuda, std::vector<float>(std::size_t(batch) * classes, 9.0f));
      Twin<float> stats(*b.cpu, *b.cuda, {-1.0f, -1.0f});
      b.cpu->softmax_xent(logits.cpu(), label_buf.cpu(), with_grad ? dlogits.cpu() : nullptr,
                          stats.cpu(), stats.cpu() + 1, batch, classes);
      b.cuda->softmax_xent(logits.cuda(), label_buf.cuda(), with_grad ? dlogits.cuda() : nullptr,
                           stats.cuda(), stats.cuda() + 1, batch, classes);
      const std::vector<float> sc = stats.cpu_values(), sg = stats.cuda_values();
      CHECK(sg[0] == doctest::Approx(sc[0]).epsilon(kElementwiseRtol));
      CHECK(sg[1] == sc[1]);  // correct count, exact
      CHECK(sc[0] > 0.0f);
      if (with_grad) expect_close(dlogits, kElementwiseRtol, kAtol, "dlogits");
      else expect_equal(dlogits, "dlogits untouched");
    }
  }
}

TEST_CASE("sgd: plain, momentum, nesterov, weight decay") {
  require_cuda();
  Backends b;
  const std::size_t n = 10007;
  std::uint64_t seed = 600;
  const std::vector<SgdHyper> hypers = {
      {0.1f, 0.0f, 0.0f, false}, {0.05f, 0.9f, 0.0f, false}, {0.05f, 0.9f, 1e-2f, true},
      {0.01f, 0.5f, 5e-3f, false}};
  for (const SgdHyper& h : hypers) {
    CAPTURE(h.momentum);
    CAPTURE(h.nesterov);
    CAPTURE(h.weight_decay);
    Twin<float> params(*b.cpu, *b.cuda, random_floats(n, ++seed));
    Twin<float> velocity(*b.cpu, *b.cuda, random_floats(n, ++seed, -0.1f, 0.1f));
    for (int step = 0; step < 3; ++step) {
      Twin<float> grads(*b.cpu, *b.cuda, random_floats(n, ++seed));
      b.cpu->sgd_step(params.cpu(), grads.cpu(), velocity.cpu(), n, h);
      b.cuda->sgd_step(params.cuda(), grads.cuda(), velocity.cuda(), n, h);
    }
    expect_close(params, kElementwiseRtol, kAtol, "sgd params");
    expect_close(velocity, kElementwiseRtol, kAtol, "sgd velocity");
  }
}

TEST_CASE("adam and adam with a hessian diagonal") {
  require_cuda();
  Backends b;
  const std::size_t n = 10007;
  std::uint64_t seed = 700;
  for (bool with_hessian : {false, true}) {
    for (float wd : {0.0f, 0.01f}) {
      CAPTURE(with_hessian);
      CAPTURE(wd);
      Twin<float> params(*b.cpu, *b.cuda, random_floats(n, ++seed));
      Twin<float> m(*b.cpu, *b.cuda, std::vector<float>(n, 0.0f));
      Twin<float> v(*b.cpu, *b.cuda, std::vector<float>(n, 0.0f));
      for (std::int64_t step = 1; step <= 4; ++step) {
        Twin<float> grads(*b.cpu, *b.cuda, random_floats(n, ++seed));
        Twin<float> hessian(*b.cpu, *b.cuda, random_floats(n, ++seed, -2.0f, 2.0f));
        AdamHyper h;
        h.lr = 1e-2f;
        h.weight_decay = wd;
        h.step = step;
        b.cpu->adam_step(params.cpu(), grads.cpu(), with_hessian ? hessian.cpu() : nullptr,
                         m.cpu(), v.cpu(), n, h);
        b.cuda->adam_step(params.cuda(), grads.cuda(), with_hessian ? hessian.cuda() : nullptr,
                          m.cuda(), v.cuda(), n, h);
      }
      expect_close(params, kElementwiseRtol, kAtol, "adam params");
      expect_close(m, kElementwiseRtol, kAtol, "adam m");
      expect_close(v, kElementwiseRtol, kAtol, "adam v");
    }
  }
}

TEST_CASE("rademacher probes are bit-identical to the CPU's") {
  require_cuda();
  Backends b;
  for (std::size_t n : {std::size_t{1}, std::size_t{7}, std::size_t{4096}, std::size_t{100003}}) {
    for (std::uint64_t seed : {std::uint64_t{0}, std::uint64_t{42}, (std::uint64_t{1} << 63) + 5}) {
      CAPTURE(n);
      CAPTURE(seed);
      Twin<float> out(*b.cpu, *b.cuda, std::vector<float>(n, 0.0f));
      b.cpu->rademacher(out.cpu(), n, seed);
      b.cuda->rademacher(out.cuda(), n, seed);
      expect_equal(out, "rademacher");
      const std::vector<float> v = out.cuda_values();
      CHECK(std::all_of(v.begin(), v.end(), [](float x) { return x == 1.0f || x == -1.0f; }));
      if (n >= 4096) {
        const auto plus = std::count(v.begin(), v.end(), 1.0f);
        CHECK(plus > static_cast<long>(n) / 3);
        CHECK(plus < 2 * static_cast<long>(n) / 3);
      }
    }
  }
}

TEST_CASE("hutchinson, axpby, fill and copy") {
  require_cuda();
  Backends b;
  const std::size_t n = 5003;
  Twin<float> v(*b.cpu, *b.cuda, random_floats(n, 801));
  Twin<float> gp(*b.cpu, *b.cuda, random_floats(n, 802));
  Twin<float> g(*b.cpu, *b.cuda, random_floats(n, 803));
  Twin<float> out(*b.cpu, *b.cuda, std::vector<float>(n, 9.0f));
  b.cpu->hutchinson(v.cpu(), gp.cpu(), g.cpu(), 1e-3f, out.cpu(), n);
  b.cuda->hutchinson(v.cuda(), gp.cuda(), g.cuda(), 1e-3f, out.cuda(), n);
  expect_close(out, kElementwiseRtol, kAtol, "hutchinson");

  b.cpu->axpby(0.3f, v.cpu(), -1.7f, g.cpu(), n);
  b.cuda->axpby(0.3f, v.cuda(), -1.7f, g.cuda(), n);
  expect_close(g, kElementwiseRtol, kAtol, "axpby");

  b.cpu->fill(out.cpu() + 10, 2.5f, n - 20);
  b.cuda->fill(out.cuda() + 10, 2.5f, n - 20);
  expect_equal(out, "fill (a middle range)");

  b.cpu->copy(out.cpu() + 1, v.cpu() + 2, n - 3);
  b.cuda->copy(out.cuda() + 1, v.cuda() + 2, n - 3);
  expect_equal(out, "copy (offset ranges)");
}

TEST_CASE("to_device: the host source may be reused at once; to_host waits for prior work") {
  require_cuda();
  Backends b;
  Backend& cuda = *b.cuda;
  // More uploads than staging slots, each followed by overwriting the host source.
  const std::size_t n = 3001;
  std::vector<DeviceBuffer<float>> buffers;
  std::vector<float> host(n);
  for (int i = 0; i < 12; ++i) {
    buffers.emplace_back(cuda, n);
    std::fill(host.begin(), host.end(), float(i));
    buffers.back().upload(host.data(), n);
    std::fill(host.begin(), host.end(), -1.0f);
  }
  // A large upload (beyond the staging size) and an op queued behind it.
  const std::size_t big = (std::size_t{20} << 20) / sizeof(float);
  std::vector<float> big_host = random_floats(big, 901);
  DeviceBuffer<float> big_buf(cuda, big);
  big_buf.upload(big_host.data(), big);
  cuda.axpby(2.0f, buffers[3].data(), 1.0f, buffers[5].data(), n);  // 5 + 2*3 = 11
  for (int i = 0; i < 12; ++i) {
    std::vector<float> back(n);
    buffers[i].download(back.data(), n);
    const float want = i == 5 ? 11.0f : float(i);
    CAPTURE(i);
    CHECK(std::all_of(back.begin(), back.end(), [&](float x) { return x == want; }));
  }
  std::vector<float> big_back(big);
  big_buf.download(big_back.data(), big);
  CHECK(big_back == big_host);
  // alloc() memory is zeroed.
  DeviceBuffer<float> fresh(cuda, n);
  std::vector<float> zeros(n, 1.0f);
  fresh.download(zeros.data(), n);
  CHECK(std::all_of(zeros.begin(), zeros.end(), [](float x) { return x == 0.0f; }));
}
