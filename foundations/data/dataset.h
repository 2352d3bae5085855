#pragma once
// Fashion-MNIST (IDX files, gzip'd) and deterministic sharding.
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

// The indices of shard `index` of `count` over a dataset of n samples: a permutation of
// 0..n-1 seeded by `seed`, dealt round-robin. Shards are disjoint, cover every sample
// exactly once, differ in size by at most one, and depend only on (n, seed, index, count).
std::vector<std::uint32_t> shard_indices(std::size_t n, std::uint64_t seed, int index,
                                         int count);

// Walks a shard in batches, reshuffled each epoch by (seed, epoch). The position (epoch,
// offset) can be saved and restored, so a resumed peer continues with the same batches.
class BatchCursor {
 public:
  BatchCursor(std::vector<std::uint32_t> shard, std::uint64_t seed);
  // Indices of the next batch (at most `batch`; the last batch of an epoch may be short).
  // Advances to the next epoch after the last batch.
  std::vector<std::uint32_t> next(int batch);
  std::int64_t epoch() const { return epoch_; }
  std::size_t offset() const { return offset_; }
  std::size_t shard_size() const { return shard_.size(); }
  void seek(std::int64_t epoch, std::size_t offset);

 private:
  void shuffle();
  std::vector<std::uint32_t> shard_, order_;
  std::uint64_t seed_;
  std::int64_t epoch_ = 0;
  std::size_t offset_ = 0;
};

// Copies the selected samples into contiguous host batch buffers.
void gather_batch(const Dataset& data, const std::vector<std::uint32_t>& indices,
                  std::vector<float>& x, std::vector<std::int32_t>& y);

}  // namespace chorus
