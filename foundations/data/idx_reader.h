#pragma once
// Reads one IDX file (the Fashion-MNIST / MNIST container format) whole, gzip'd or plain,
// and checks it against what its header promises.
//
// Format: a big-endian header (magic, item count, then for images rows and columns)
// followed by one unsigned byte per pixel or label. Image files have magic 0x00000803,
// label files 0x00000801.
//
// A path ending in ".gz" must be a gzip file; any other path is read as plain bytes, or
// decompressed if it happens to be gzip'd. Decompressed bytes beyond what the header
// promises are an error (a header that undercounts its data means the file is not what it
// claims); bytes after the end of the gzip stream itself are ignored, as zlib does. The
// gzip checksum is verified.
//
// Every problem throws UserError("<path>: <what is wrong>"). Blocks on file I/O only;
// no shared state, so concurrent calls on different files are safe.
#include <cstdint>
#include <string>
#include <vector>

namespace chorus {

inline constexpr std::uint32_t kIdxImagesMagic = 0x00000803;
inline constexpr std::uint32_t kIdxLabelsMagic = 0x00000801;
inline constexpr int kIdxMaxSide = 4096;  // rows and columns must lie in 1..kIdxMaxSide

struct IdxImages {
  std::size_t count = 0;
  int rows = 0, cols = 0;
  std::vector<std::uint8_t> pixels;  // count * rows * cols, row-major per image
};

struct IdxLabels {
  std::vector<std::uint8_t> labels;  // each < the `classes` given to read_idx_labels
};

IdxImages read_idx_images(const std::string& path);
IdxLabels read_idx_labels(const std::string& path, int classes);

// What an IDX file's header alone says, checked as read_idx_images / read_idx_labels check
// it (magic, a non-zero count, image sides in range); the data after the header is not read,
// so neither its length nor the label values are checked.
struct IdxHeader {
  std::size_t count = 0;  // images or labels the file promises
  int rows = 0, cols = 0;  // image files only
};
IdxHeader read_idx_images_header(const std::string& path);
IdxHeader read_idx_labels_header(const std::string& path);

}  // namespace chorus
