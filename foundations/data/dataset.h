#pragma once
// Dataset: a split of Fashion-MNIST (IDX files, gzip'd), in memory.
//
// load_idx_dataset() reads <dir>/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz (plain,
// not gzip'd, files of the same names without .gz also work). Any problem (missing file,
// bad magic, truncated data, label/image count mismatch, labels out of range) throws
// UserError naming the file and what is wrong; the tools turn that into exit code 2.
//
// Pixels become floats normalised with the training set's mean and standard deviation
// (fixed constants, so train and test are normalised the same way everywhere).
#include <cstdint>
#include <string>
#include <vector>

namespace chorus {

enum class Split { train, test };

struct Dataset {
  int rows = 0, cols = 0;           // 28 x 28
  int classes = 10;
  std::vector<float> images;        // size() * rows * cols, normalised
  std::vector<std::int32_t> labels;  // size()
  std::size_t size() const { return labels.size(); }
  std::size_t sample_floats() const { return static_cast<std::size_t>(rows) * cols; }
};

Dataset load_idx_dataset(const std::string& dir, Split split);

// The number of samples in `split`, from the headers of its two files alone (a few bytes each,
// no pixels): what load_idx_dataset would load, for sizing a run before it starts. Throws the
// UserErrors load_idx_dataset throws for a missing file, a bad header or counts that disagree;
// problems in the data after the headers show only when the data is loaded.
std::size_t idx_split_size(const std::string& dir, Split split);

}  // namespace chorus
