#pragma once
// A double-precision re-implementation of a zoo model's forward pass and loss, read off the
// model's layers and parameter layout, for checking Model::train_batch's gradients by central
// differences without float rounding in the way.
//
// It follows the zoo's conventions: each linear / conv2d layer owns the next two tensors of
// the layout (weight, bias); every such layer but the last is followed by a ReLU;
// convolutions have stride 1 and the padding that gives their output size; pooling windows
// equal their stride. A model breaking these fails the REQUIREs below.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "foundations/models/model.h"

namespace chorus_test {

class ReferenceNet {
 public:
  ReferenceNet(const chorus::Model& model, std::vector<double> x, std::vector<std::int32_t> labels)
      : x_(std::move(x)), labels_(std::move(labels)), batch_(static_cast<int>(labels_.size())) {
    const auto& tensors = model.layout().tensors();
    std::size_t next_tensor = 0;
    chorus::SampleShape in = model.input_shape();
    const auto& layers = model.layers();
    for (std::size_t i = 0; i < layers.size(); ++i) {
      Step s;
      s.kind = layers[i]->kind();
      s.in = in;
      s.out = layers[i]->output_shape();
      if (s.kind == "linear" || s.kind == "conv2d") {
        REQUIRE(next_tensor + 1 < tensors.size());
        s.weight = tensors[next_tensor].offset;
        s.bias = tensors[next_tensor + 1].offset;
        s.weight_shape = tensors[next_tensor].shape;
        next_tensor += 2;
        s.relu = i + 1 < layers.size();
        if (s.kind == "conv2d") {
          const int k = s.weight_shape[2];
          s.pad = (s.out.h - s.in.h + k - 1) / 2;
          REQUIRE(s.out.h == s.in.h + 2 * s.pad - k + 1);
          REQUIRE(s.out.w == s.in.w + 2 * s.pad - k + 1);
        }
      } else {
        REQUIRE(s.kind == "maxpool2d");
        s.window = s.in.h / s.out.h;
      }
      steps_.push_back(s);
      in = s.out;
    }
    REQUIRE(next_tensor == tensors.size());
  }

  // The layer whose parameters include flat index `param`.
  std::size_t layer_of(std::size_t param) const {
    std::size_t owner = 0;
    for (std::size_t i = 0; i < steps_.size(); ++i)
      if (steps_[i].kind != "maxpool2d" && steps_[i].weight <= param) owner = i;
    return owner;
  }

  // Runs every layer, keeping each layer's output for later partial runs.
  double loss(const std::vector<double>& params) {
    cache_.clear();
    return run(params, 0, true);
  }

  // Re-runs layers from `first` on, reading the cached input of layer `first` (from the last
  // full loss()); decisions() then describes this run from `first` on.
  double loss_from(const std::vector<double>& params, std::size_t first) {
    return run(params, first, false);
  }

  // ReLU masks and pooling winners of the last run.
  const std::vector<std::int32_t>& decisions() const { return decisions_; }

 private:
  struct Step {
    std::string kind;
    chorus::SampleShape in, out;
    std::size_t weight = 0, bias = 0;
    std::vector<int> weight_shape;
    bool relu = false;
    int pad = 0, window = 1;
  };

  double run(const std::vector<double>& params, std::size_t first, bool keep) {
    decisions_.clear();
    std::vector<double> act = first == 0 ? x_ : cache_.at(first - 1);
    for (std::size_t i = first; i < steps_.size(); ++i) {
      act = apply(steps_[i], params, act);
      if (keep) cache_.push_back(act);
    }
    return softmax_xent(act, static_cast<int>(steps_.back().out.size()));
  }

  std::vector<double> apply(const Step& s, const std::vector<double>& p,
                            const std::vector<double>& x) {
    const int b = batch_;
    std::vector<double> y(s.out.size() * b);
    if (s.kind == "linear") {
      const std::size_t in = s.in.size(), out = s.out.size();
      for (int n = 0; n < b; ++n)
        for (std::size_t o = 0; o < out; ++o) {
          double sum = p[s.bias + o];
          for (std::size_t i = 0; i < in; ++i) sum += p[s.weight + o * in + i] * x[n * in + i];
          y[n * out + o] = sum;
        }
    } else if (s.kind == "conv2d") {
      // Accumulated tap by tap so the innermost loop runs along an output row.
      const int k = s.weight_shape[2];
      const std::size_t in_plane = static_cast<std::size_t>(s.in.h) * s.in.w;
      const std::size_t out_plane = static_cast<std::size_t>(s.out.h) * s.out.w;
      for (int n = 0; n < b; ++n)
        for (int oc = 0; oc < s.out.c; ++oc) {
          double* out = y.data() + (static_cast<std::size_t>(n) * s.out.c + oc) * out_plane;
          std::fill(out, out + out_plane, p[s.bias + oc]);
          for (int c = 0; c < s.in.c; ++c) {
            const double* in = x.data() + (static_cast<std::size_t>(n) * s.in.c + c) * in_plane;
            for (int i = 0; i < k; ++i)
              for (int j = 0; j < k; ++j) {
                const double w =
                    p[s.weight + ((static_cast<std::size_t>(oc) * s.in.c + c) * k + i) * k + j];
                const int ow_lo = std::max(0, s.pad - j);
                const int ow_hi = std::min(s.out.w, s.in.w + s.pad - j);
                for (int oh = 0; oh < s.out.h; ++oh) {
                  const int ih = oh - s.pad + i;
                  if (ih < 0 || ih >= s.in.h) continue;
                  double* row = out + static_cast<std::size_t>(oh) * s.out.w;
                  const double* src = in + static_cast<std::size_t>(ih) * s.in.w - s.pad + j;
                  for (int ow = ow_lo; ow < ow_hi; ++ow) row[ow] += w * src[ow];
                }
              }
          }
        }
    } else {
      std::size_t at = 0;
      for (int plane = 0; plane < b * s.in.c; ++plane)
        for (int oh = 0; oh < s.out.h; ++oh)
          for (int ow = 0; ow < s.out.w; ++ow) {
            double best = -std::numeric_limits<double>::infinity();
            int winner = 0;
            for (int q = 0; q < s.window * s.window; ++q) {
              const double v =
                  x[(static_cast<std::size_t>(plane) * s.in.h + oh * s.window + q / s.window) *
                        s.in.w +
                    ow * s.window + q % s.window];
              if (v > best) best = v, winner = q;
            }
            y[at++] = best;
            decisions_.push_back(winner);
          }
    }
    if (s.relu) {
      for (double& v : y) {
        decisions_.push_back(v > 0.0);
        v = std::max(v, 0.0);
      }
    }
    return y;
  }

  double softmax_xent(const std::vector<double>& logits, int classes) const {
    double total = 0.0;
    for (int n = 0; n < batch_; ++n) {
      const double* row = logits.data() + static_cast<std::size_t>(n) * classes;
      const double top = *std::max_element(row, row + classes);
      double sum = 0.0;
      for (int c = 0; c < classes; ++c) sum += std::exp(row[c] - top);
      total += top + std::log(sum) - row[labels_[n]];
    }
    return total / batch_;
  }

  std::vector<double> x_;
  std::vector<std::int32_t> labels_;
  int batch_;
  std::vector<Step> steps_;
  std::vector<std::vector<double>> cache_;
  std::vector<std::int32_t> decisions_;
};

}  // namespace chorus_test
