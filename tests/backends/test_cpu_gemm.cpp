// The CPU backend's GEMM and vector ops against naive loops.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "foundations/backends/backend.h"
#include "tests/backends/gradient_check.h"

namespace {

// C = alpha * op(A) * op(B) + beta * C in double, same storage conventions as Backend::gemm.
void naive_gemm(bool ta, bool tb, int m, int n, int k, float alpha, const std::vector<float>& a,
                int lda, const std::vector<float>& b, int ldb, float beta, std::vector<double>& c,
                int ldc) {
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      double s = 0.0;
      for (int p = 0; p < k; ++p) {
        const double av = ta ? a[p * lda + i] : a[i * lda + p];
        const double bv = tb ? b[j * ldb + p] : b[p * ldb + j];
        s += av * bv;
      }
      const double old = beta == 0.0f ? 0.0 : beta * c[i * ldc + j];
      c[i * ldc + j] = alpha * s + old;
    }
  }
}

void check_gemm(bool ta, bool tb, int m, int n, int k, float alpha, float beta, int pad) {
  auto backend = chorus::make_cpu_backend();
  // Leading dimensions wider than the matrices, so strides are exercised.
  const int a_rows = ta ? k : m, a_cols = ta ? m : k;
  const int b_rows = tb ? n : k, b_cols = tb ? k : n;
  const int lda = a_cols + pad, ldb = b_cols + pad, ldc = n + pad;
  const auto a = chorus_test::random_floats(static_cast<std::size_t>(a_rows) * lda, 11);
  const auto b = chorus_test::random_floats(static_cast<std::size_t>(b_rows) * ldb, 12);
  auto c = chorus_test::random_floats(static_cast<std::size_t>(m) * ldc, 13);
  if (beta == 0.0f) {
    // beta == 0 must ignore C entirely, NaN included (BLAS semantics).
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) c[i * ldc + j] = std::numeric_limits<float>::quiet_NaN();
  }
  std::vector<double> expected(c.begin(), c.end());
  naive_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, expected, ldc);
  backend->gemm(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
  int bad = 0;
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      const double want = expected[i * ldc + j];
      if (!(std::fabs(c[i * ldc + j] - want) <= 1e-4 * (1.0 + std::fabs(want))) && ++bad <= 3)
        FAIL_CHECK("C[" << i << "," << j << "] = " << c[i * ldc + j] << ", expected " << want);
    }
    // Padding columns of C are not part of the product and stay as they were.
    for (int j = n; j < ldc; ++j) CHECK(c[i * ldc + j] == static_cast<float>(expected[i * ldc + j]));
  }
}

}  // namespace

TEST_CASE("gemm matches a naive loop for every transpose combination") {
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      CAPTURE(ta);
      CAPTURE(tb);
      check_gemm(ta, tb, 7, 5, 3, 1.0f, 0.0f, 0);
      check_gemm(ta, tb, 1, 1, 1, 2.0f, 0.0f, 0);
      check_gemm(ta, tb, 67, 45, 33, -1.5f, 0.5f, 3);
      check_gemm(ta, tb, 16, 129, 70, 0.25f, 1.0f, 1);
      check_gemm(ta, tb, 40, 9, 200, 1.0f, -2.0f, 0);
    }
  }
}

TEST_CASE("gemm with k == 0 only scales C") {
  auto backend = chorus::make_cpu_backend();
  std::vector<float> c = {1, 2, 3, 4, 5, 6};
  backend->gemm(false, false, 2, 3, 0, 1.0f, nullptr, 1, nullptr, 3, 0.5f, c.data(), 3);
  CHECK(c == std::vector<float>{0.5f, 1, 1.5f, 2, 2.5f, 3});
  backend->gemm(false, false, 2, 3, 0, 1.0f, nullptr, 1, nullptr, 3, 0.0f, c.data(), 3);
  CHECK(c == std::vector<float>(6, 0.0f));
}

TEST_CASE("axpby") {
  auto backend = chorus::make_cpu_backend();
  std::vector<float> x = {1, 2, 3, 4, 5}, y = {10, 20, 30, 40, 50};
  backend->axpby(2.0f, x.data(), 0.5f, y.data(), x.size());
  CHECK(y == std::vector<float>{7, 14, 21, 28, 35});
}

TEST_CASE("rademacher probes are fixed by the seed (AdaHessian's draws never change)") {
  // Element i is +1 exactly when bit i of this mask is set: the probes of seed 42 as chorus
  // has always drawn them (the sign bit of splitmix64(seed ^ 0xD1B54A32D192ED03 * (i + 1))).
  constexpr std::uint64_t kSeed42 = 0x0c74aa6dd1f9587bull;
  auto backend = chorus::make_cpu_backend();
  std::vector<float> out(64);
  backend->rademacher(out.data(), out.size(), 42);
  for (std::size_t i = 0; i < out.size(); ++i) CHECK(out[i] == (((kSeed42 >> i) & 1) ? 1.0f : -1.0f));
}
