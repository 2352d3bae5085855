#pragma once
// Finite-difference gradient checking for the layer-op and model tests.
//
// check_gradient() perturbs chosen entries of a float vector by +-eps, evaluates a scalar
// loss (in double) at both points and compares the central difference with the analytic
// gradient: |numeric - analytic| <= atol + rtol * max(|numeric|, |analytic|). An optional
// `pattern` callback returns the discrete choices the function made (ReLU masks, pooling
// argmax); an entry whose perturbation changes them straddles a kink, where central
// differences are meaningless, and is retried with a smaller step (see below).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "tests/test_util.h"  // random_floats

namespace chorus_test {

// `count` distinct indices in [0, n) (all of them when count >= n), in increasing order.
inline std::vector<std::size_t> sample_indices(std::size_t n, std::size_t count,
                                               std::uint64_t seed) {
  std::vector<std::size_t> all(n);
  for (std::size_t i = 0; i < n; ++i) all[i] = i;
  if (count >= n) return all;
  std::mt19937_64 rng(seed);
  std::shuffle(all.begin(), all.end(), rng);
  all.resize(count);
  std::sort(all.begin(), all.end());
  return all;
}

// sum(weights .* values) in double: a loss whose gradient w.r.t. values is `weights`.
inline double weighted_sum(const float* values, const std::vector<float>& weights) {
  double s = 0.0;
  for (std::size_t i = 0; i < weights.size(); ++i)
    s += static_cast<double>(values[i]) * weights[i];
  return s;
}

struct Tolerance {
  double eps = 1e-2;
  double rtol = 1e-2;
  double atol = 1e-4;
};

struct GradientReport {
  int compared = 0;
  int skipped = 0;  // straddled a kink
  int failed = 0;
  double max_error = 0.0;            // largest |numeric - analytic|
  double analytic_max_abs = 0.0;     // largest |analytic| among the compared entries
};

using Pattern = std::function<std::vector<std::int32_t>()>;

// Checks analytic[i] for each i in `indices` against central differences of loss() in
// values[i]; values is restored. Where the perturbation crosses a kink (pattern changes) the
// step is shrunk tenfold, up to three times, and the absolute tolerance grows with it (the
// rounding noise of a difference quotient scales with 1/eps); an entry still crossing one is
// skipped. Failures are reported through doctest with `what`.
// Values may be float (the backend's own tensors) or double (a reference implementation).
template <typename T>
GradientReport check_gradient(const char* what, std::vector<T>& values,
                              const std::vector<float>& analytic,
                              const std::vector<std::size_t>& indices,
                              const std::function<double()>& loss, const Tolerance& tol,
                              const Pattern& pattern = nullptr) {
  constexpr int kShrinks = 3;
  GradientReport report;
  std::vector<std::int32_t> base;
  if (pattern) {
    loss();  // the pattern describes the last evaluation
    base = pattern();
  }
  for (std::size_t i : indices) {
    const T saved = values[i];
    T eps = static_cast<T>(tol.eps);
    double atol = tol.atol;
    bool smooth = false;
    double plus = 0.0, minus = 0.0;
    for (int attempt = 0; attempt <= kShrinks && !smooth; ++attempt) {
      if (attempt > 0) eps /= T(10), atol *= 10.0;
      values[i] = saved + eps;
      plus = loss();
      smooth = !pattern || pattern() == base;
      values[i] = saved - eps;
      minus = loss();
      smooth = smooth && (!pattern || pattern() == base);
      values[i] = saved;
    }
    if (!smooth) {
      ++report.skipped;
      continue;
    }
    // The perturbation actually applied, after rounding to T.
    const double step = static_cast<double>(saved + eps) - static_cast<double>(saved - eps);
    const double numeric = (plus - minus) / step;
    const double a = analytic[i];
    const double err = std::fabs(numeric - a);
    const double allowed = atol + tol.rtol * std::max(std::fabs(numeric), std::fabs(a));
    ++report.compared;
    report.max_error = std::max(report.max_error, err);
    report.analytic_max_abs = std::max(report.analytic_max_abs, std::fabs(a));
    if (err > allowed) {
      ++report.failed;
      if (report.failed <= 5)
        FAIL_CHECK(what << "[" << i << "]: analytic " << a << " numeric " << numeric
                        << " (allowed error " << allowed << ", eps " << eps << ")");
    }
  }
  return report;
}

}  // namespace chorus_test
