#include <fmt/format.h>

#include <array>
#include <filesystem>

#include "foundations/base/error.h"
#include "foundations/data/dataset.h"
#include "foundations/data/idx_reader.h"

namespace chorus {

namespace {

// Fashion-MNIST training-set pixel statistics (of p / 255), used for every split so that
// train and test are normalised identically.
constexpr double kFashionMnistPixelMean = 0.2860;
constexpr double kFashionMnistPixelStd = 0.3530;
constexpr int kFashionMnistClasses = 10;

// <dir>/<name>.gz if it exists, else <dir>/<name>; throws if neither does.
std::string resolve(const std::string& dir, const std::string& name) {
  namespace fs = std::filesystem;
  const fs::path gz = fs::path(dir) / (name + ".gz");
  const fs::path plain = fs::path(dir) / name;
  for (const fs::path& p : {gz, plain}) {
    std::error_code ec;
    const fs::file_status st = fs::status(p, ec);
    if (ec && ec != std::errc::no_such_file_or_directory && ec != std::errc::not_a_directory)
      throw UserError(fmt::format("{}: cannot access: {}", p.string(), ec.message()));
    if (!fs::exists(st)) continue;
    if (fs::is_directory(st)) throw UserError(p.string() + ": is a directory, not an IDX file");
    return p.string();
  }
  throw UserError(fmt::format("{}: file not found (nor {} without .gz)", gz.string(), name));
}

std::array<float, 256> normalisation_table() {
  std::array<float, 256> t{};
  for (int p = 0; p < 256; ++p)
    t[p] = static_cast<float>((p / 255.0 - kFashionMnistPixelMean) / kFashionMnistPixelStd);
  return t;
}

struct SplitFiles {
  std::string images, labels;
};

SplitFiles split_files(const std::string& dir, Split split) {
  const std::string stem = split == Split::train ? "train" : "t10k";
  return {resolve(dir, stem + "-images-idx3-ubyte"), resolve(dir, stem + "-labels-idx1-ubyte")};
}

void expect_same_count(const SplitFiles& files, std::size_t images, std::size_t labels) {
  if (images != labels)
    throw UserError(fmt::format("{}: holds {} images but {} holds {} labels", files.images, images,
                                files.labels, labels));
}

}  // namespace

std::size_t idx_split_size(const std::string& dir, Split split) {
  const SplitFiles files = split_files(dir, split);
  const std::size_t labels = read_idx_labels_header(files.labels).count;
  const std::size_t images = read_idx_images_header(files.images).count;
  expect_same_count(files, images, labels);
  return images;
}

Dataset load_idx_dataset(const std::string& dir, Split split) {
  const SplitFiles files = split_files(dir, split);
  const IdxLabels labels = read_idx_labels(files.labels, kFashionMnistClasses);
  const IdxImages images = read_idx_images(files.images);
  expect_same_count(files, images.count, labels.labels.size());

  Dataset out;
  out.rows = images.rows;
  out.cols = images.cols;
  out.classes = kFashionMnistClasses;
  out.labels.assign(labels.labels.begin(), labels.labels.end());
  const std::array<float, 256> table = normalisation_table();
  out.images.resize(images.pixels.size());
  for (std::size_t i = 0; i < images.pixels.size(); ++i) out.images[i] = table[images.pixels[i]];
  return out;
}

}  // namespace chorus
