// load_idx_dataset: the real Fashion-MNIST files, and crafted files with each kind of defect.
#include <doctest/doctest.h>
#include <zlib.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "foundations/base/error.h"
#include "foundations/data/dataset.h"
#include "foundations/data/gather_batch.h"
#include "tests/test_util.h"

namespace {

using chorus::Split;
using chorus::UserError;

constexpr float kMean = 0.2860f, kStd = 0.3530f;

bool real_data_present() {
  const std::filesystem::path dir = chorus_test::data_dir();
  for (const char* name : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                           "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"})
    if (!std::filesystem::exists(dir / (std::string(name) + ".gz")) &&
        !std::filesystem::exists(dir / name))
      return false;
  return true;
}

void put_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

std::string images_header(std::uint32_t magic, std::uint32_t count, std::uint32_t rows,
                          std::uint32_t cols) {
  std::string s;
  put_u32(s, magic);
  put_u32(s, count);
  put_u32(s, rows);
  put_u32(s, cols);
  return s;
}

// An IDX image file whose pixel i of image k is (k * 31 + i * 7) % 256.
std::string images_file(std::uint32_t count, std::uint32_t rows, std::uint32_t cols) {
  std::string s = images_header(0x803, count, rows, cols);
  for (std::uint32_t k = 0; k < count; ++k)
    for (std::uint32_t i = 0; i < rows * cols; ++i)
      s.push_back(static_cast<char>((k * 31 + i * 7) % 256));
  return s;
}

std::string labels_file(const std::vector<int>& labels, std::uint32_t magic = 0x801) {
  std::string s;
  put_u32(s, magic);
  put_u32(s, static_cast<std::uint32_t>(labels.size()));
  for (int l : labels) s.push_back(static_cast<char>(l));
  return s;
}

void write_plain(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(f.good());
}

std::string gzip(const std::string& bytes) {
  chorus_test::TempDir tmp("chorus-gz");
  const std::string path = tmp / "x.gz";
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  if (!bytes.empty())
    REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) ==
            static_cast<int>(bytes.size()));
  REQUIRE(gzclose(f) == Z_OK);
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_gz(const std::string& path, const std::string& bytes) { write_plain(path, gzip(bytes)); }

// A valid train split of `count` images of 4x3 with labels k % 10.
void write_valid_train(const chorus_test::TempDir& dir, std::uint32_t count) {
  std::vector<int> labels;
  for (std::uint32_t k = 0; k < count; ++k) labels.push_back(static_cast<int>(k % 10));
  write_gz(dir / "train-images-idx3-ubyte.gz", images_file(count, 4, 3));
  write_gz(dir / "train-labels-idx1-ubyte.gz", labels_file(labels));
}

// Loading must throw a UserError whose one-line message is "<path>: ..." and mentions `problem`.
void expect_error(const chorus_test::TempDir& dir, const std::string& path,
                  const std::string& problem, Split split = Split::train) {
  std::string message;
  try {
    chorus::load_idx_dataset(dir.path().string(), split);
  } catch (const UserError& e) {
    message = e.what();
  }
  INFO("message: " << message);
  REQUIRE_FALSE(message.empty());
  CHECK(message.rfind(path + ": ", 0) == 0);
  CHECK(message.find(problem) != std::string::npos);
  CHECK(message.find('\n') == std::string::npos);
}

}  // namespace

TEST_CASE("the real Fashion-MNIST loads and is normalised" * doctest::skip(!real_data_present())) {
  const auto start = std::chrono::steady_clock::now();
  const chorus::Dataset train = chorus::load_idx_dataset(chorus_test::data_dir(), Split::train);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MESSAGE("train split loaded in " << seconds << " s");
  const chorus::Dataset test = chorus::load_idx_dataset(chorus_test::data_dir(), Split::test);

  CHECK(train.size() == 60000);
  CHECK(test.size() == 10000);
  for (const chorus::Dataset* d : {&train, &test}) {
    CHECK(d->rows == 28);
    CHECK(d->cols == 28);
    CHECK(d->classes == 10);
    REQUIRE(d->images.size() == d->size() * 784);
    std::vector<int> per_class(10, 0);
    for (std::int32_t l : d->labels) {
      REQUIRE(l >= 0);
      REQUIRE(l < 10);
      ++per_class[static_cast<std::size_t>(l)];
    }
    for (int c : per_class) CHECK(c == static_cast<int>(d->size() / 10));  // balanced classes
  }

  double sum = 0, sum_sq = 0;
  float lo = train.images[0], hi = train.images[0];
  for (float v : train.images) {
    sum += v;
    sum_sq += double{v} * v;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  const double mean = sum / static_cast<double>(train.images.size());
  const double std_dev = std::sqrt(sum_sq / static_cast<double>(train.images.size()) - mean * mean);
  MESSAGE("normalised train mean " << mean << ", std " << std_dev);
  CHECK(std::abs(mean) < 0.01);
  CHECK(std::abs(std_dev - 1.0) < 0.01);
  CHECK(lo == doctest::Approx((0.0f - kMean) / kStd));
  CHECK(hi == doctest::Approx((1.0f - kMean) / kStd));
}

TEST_CASE("crafted gzip and plain files load with exact pixels and labels") {
  chorus_test::TempDir dir("chorus-data");
  write_gz(dir / "t10k-images-idx3-ubyte.gz", images_file(3, 4, 3));
  write_plain(dir / "t10k-labels-idx1-ubyte", labels_file({7, 0, 9}));  // plain, no .gz

  const chorus::Dataset d = chorus::load_idx_dataset(dir.path().string(), Split::test);
  REQUIRE(d.size() == 3);
  CHECK(d.rows == 4);
  CHECK(d.cols == 3);
  CHECK(d.sample_floats() == 12);
  CHECK(d.labels == std::vector<std::int32_t>{7, 0, 9});
  REQUIRE(d.images.size() == 36);
  for (int k = 0; k < 3; ++k)
    for (int i = 0; i < 12; ++i) {
      const float pixel = static_cast<float>((k * 31 + i * 7) % 256) / 255.0f;
      CHECK(d.images[static_cast<std::size_t>(k * 12 + i)] ==
            doctest::Approx((pixel - kMean) / kStd));
    }

  // The .gz file wins over a plain file of the same name.
  write_plain(dir / "t10k-images-idx3-ubyte", images_file(2, 4, 3));
  CHECK(chorus::load_idx_dataset(dir.path().string(), Split::test).size() == 3);
  // A plain-named file that happens to be gzip'd is decompressed.
  std::filesystem::remove(dir / "t10k-images-idx3-ubyte.gz");
  write_gz(dir / "t10k-images-idx3-ubyte", images_file(3, 4, 3));
  CHECK(chorus::load_idx_dataset(dir.path().string(), Split::test).size() == 3);
}

TEST_CASE("missing files are named") {
  chorus_test::TempDir dir("chorus-data");
  expect_error(dir, dir / "train-images-idx3-ubyte.gz",
               "file not found (nor train-images-idx3-ubyte without .gz)");
  write_valid_train(dir, 5);
  std::filesystem::remove(dir / "train-labels-idx1-ubyte.gz");
  expect_error(dir, dir / "train-labels-idx1-ubyte.gz", "not found");
  // The test split needs its own files.
  write_valid_train(dir, 5);
  write_gz(dir / "t10k-images-idx3-ubyte.gz", images_file(5, 4, 3));
  expect_error(dir, dir / "t10k-labels-idx1-ubyte.gz", "not found", Split::test);

  std::string message;
  try {
    chorus::load_idx_dataset((dir / "no-such-dir"), Split::train);
  } catch (const UserError& e) {
    message = e.what();
  }
  CHECK(message.find("no-such-dir/train-images-idx3-ubyte.gz: file not found") !=
        std::string::npos);
}

TEST_CASE("a directory in place of a file is reported") {
  chorus_test::TempDir dir("chorus-data");
  write_valid_train(dir, 5);
  std::filesystem::remove(dir / "train-images-idx3-ubyte.gz");
  std::filesystem::create_directory(dir / "train-images-idx3-ubyte.gz");
  expect_error(dir, dir / "train-images-idx3-ubyte.gz", "is a directory");
}

TEST_CASE("bad magic numbers are reported") {
  chorus_test::TempDir dir("chorus-data");
  write_valid_train(dir, 5);
  write_gz(dir / "train-images-idx3-ubyte.gz", labels_file({1, 2, 3, 4, 5}));  // a label file
  expect_error(dir, dir / "train-images-idx3-ubyte.gz",
               "bad magic 0x00000801 (that of an IDX label file), expected 0x00000803");

  write_valid_train(dir, 5);
  write_gz(dir / "train-labels-idx1-ubyte.gz", labels_file({1, 2, 3, 4, 5}, 0x12345678));
  expect_error(dir, dir / "train-labels-idx1-ubyte.gz", "bad magic 0x12345678");
}

TEST_CASE("absurd header dimensions are reported") {
  chorus_test::TempDir dir("chorus-data");
  write_valid_train(dir, 5);
  const std::string images = dir / "train-images-idx3-ubyte.gz";
  write_gz(images, images_header(0x803, 5, 0, 28));
  expect_error(dir, images, "image size 0x28");
  write_gz(images, images_header(0x803, 5, 28, 5000));
  expect_error(dir, images, "out of range");
  write_gz(images, images_header(0x803, 0, 28, 28));
  expect_error(dir, images, "0 images");
  // A header promising an enormous file must fail as truncated, not exhaust memory.
  write_gz(images, images_header(0x803, 0xffffffffu, 4096, 4096) + std::string(100, 'x'));
  expect_error(dir, images,
               "truncated: header promises 4294967295 images of 4096x4096, file holds 0");

  write_valid_train(dir, 5);
  write_gz(dir / "train-labels-idx1-ubyte.gz", labels_file({}));
  expect_error(dir, dir / "train-labels-idx1-ubyte.gz", "0 labels");
}

TEST_CASE("truncated files are reported with what the header promised") {
  chorus_test::TempDir dir("chorus-data");
  const std::string images = dir / "train-images-idx3-ubyte.gz";
  const std::string labels = dir / "train-labels-idx1-ubyte.gz";

  write_valid_train(dir, 5);
  write_gz(images, images_file(5, 4, 3).substr(0, 16 + 3 * 12 + 5));
  expect_error(dir, images,
               "truncated: header promises 5 images of 4x3, file holds 3 and 5 of 12 bytes");

  write_valid_train(dir, 5);
  write_gz(labels, labels_file({1, 2, 3, 4, 5}).substr(0, 8 + 2));
  expect_error(dir, labels, "truncated: header promises 5 labels, file holds 2");

  write_valid_train(dir, 5);
  write_plain(images, gzip(images_file(5, 4, 3).substr(0, 10)));
  expect_error(dir, images, "truncated: 10 bytes, too short for the 16-byte IDX image header");

  // Plain files are checked the same way.
  write_valid_train(dir, 5);
  std::filesystem::remove(labels);
  write_plain(dir / "train-labels-idx1-ubyte", labels_file({1, 2, 3, 4, 5}).substr(0, 8 + 4));
  expect_error(dir, dir / "train-labels-idx1-ubyte",
               "truncated: header promises 5 labels, file holds 4");
}

TEST_CASE("damaged gzip streams are reported") {
  chorus_test::TempDir dir("chorus-data");
  const std::string images = dir / "train-images-idx3-ubyte.gz";

  // Pixels that barely compress, so cutting the compressed file cuts the data.
  std::string raw = images_header(0x803, 200, 28, 28);
  std::uint64_t state = 1;
  for (int i = 0; i < 200 * 784; ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    raw.push_back(static_cast<char>(state >> 56));
  }
  const std::string compressed = gzip(raw);

  write_valid_train(dir, 200);
  write_plain(images, compressed.substr(0, compressed.size() / 2));
  expect_error(dir, images, "truncated: header promises 200 images of 28x28");
  expect_error(dir, images, "(the gzip stream is cut short)");

  // All data present but the gzip trailer (checksum and length) is missing.
  write_plain(images, compressed.substr(0, compressed.size() - 8));
  expect_error(dir, images, "gzip stream is cut short after the data");

  // A wrong checksum.
  std::string bad_crc = compressed;
  bad_crc[bad_crc.size() - 8] = static_cast<char>(bad_crc[bad_crc.size() - 8] ^ 0xff);
  write_plain(images, bad_crc);
  expect_error(dir, images, "corrupt gzip data");

  // A gzip header followed by garbage.
  write_plain(images, std::string("\x1f\x8b\x08\x00", 4) + std::string(64, '\xee'));
  expect_error(dir, images, "corrupt gzip data");
}

TEST_CASE("a .gz file that is not gzip is reported") {
  chorus_test::TempDir dir("chorus-data");
  write_valid_train(dir, 5);
  const std::string labels = dir / "train-labels-idx1-ubyte.gz";
  write_plain(labels, "this is not a gzip file at all, just some text\n");
  expect_error(dir, labels, "not a gzip file");
  // Even a valid uncompressed IDX file under a .gz name is refused.
  write_plain(labels, labels_file({1, 2, 3, 4, 5}));
  expect_error(dir, labels, "not a gzip file");
  write_plain(labels, "");
  expect_error(dir, labels, "file is empty");
}

TEST_CASE("image and label counts must agree") {
  chorus_test::TempDir dir("chorus-data");
  write_valid_train(dir, 5);
  write_gz(dir / "train-labels-idx1-ubyte.gz", labels_file({1, 2, 3, 4}));
  expect_error(dir, dir / "train-images-idx3-ubyte.gz",
               "holds 5 images but " + (dir / "train-labels-idx1-ubyte.gz") + " holds 4 labels");
}

TEST_CASE("a split's size comes from the headers alone, with the loader's errors") {
  chorus_test::TempDir dir("chorus-data");
  write_valid_train(dir, 5);
  CHECK(chorus::idx_split_size(dir.path().string(), Split::train) == 5);
  // The data after the headers is not read: labels out of range go unnoticed here.
  write_gz(dir / "train-labels-idx1-ubyte.gz", labels_file({1, 2, 10, 4, 255}));
  CHECK(chorus::idx_split_size(dir.path().string(), Split::train) == 5);

  const auto error_of = [&](Split split) {
    try {
      chorus::idx_split_size(dir.path().string(), split);
    } catch (const UserError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(error_of(Split::test).find("t10k-images-idx3-ubyte.gz: file not found") != std::string::npos);
  write_gz(dir / "train-labels-idx1-ubyte.gz", labels_file({1, 2, 3, 4}));
  CHECK(error_of(Split::train) == (dir / "train-images-idx3-ubyte.gz") + ": holds 5 images but " +
                                       (dir / "train-labels-idx1-ubyte.gz") + " holds 4 labels");
  write_gz(dir / "train-images-idx3-ubyte.gz", labels_file({1, 2, 3, 4}));
  CHECK(error_of(Split::train).find("bad magic 0x00000801") != std::string::npos);
  if (real_data_present()) {
    CHECK(chorus::idx_split_size(chorus_test::data_dir(), Split::train) == 60000);
    CHECK(chorus::idx_split_size(chorus_test::data_dir(), Split::test) == 10000);
  }
}

TEST_CASE("labels out of range are reported with their position") {
  chorus_test::TempDir dir("chorus-data");
  write_valid_train(dir, 5);
  write_gz(dir / "train-labels-idx1-ubyte.gz", labels_file({1, 2, 10, 4, 255}));
  expect_error(dir, dir / "train-labels-idx1-ubyte.gz", "label 10 at index 2 is out of range");
}

TEST_CASE("data beyond what the header promises is an error") {
  chorus_test::TempDir dir("chorus-data");
  write_valid_train(dir, 5);
  write_gz(dir / "train-images-idx3-ubyte.gz", images_file(5, 4, 3) + "x");
  expect_error(dir, dir / "train-images-idx3-ubyte.gz", "trailing data");
  write_valid_train(dir, 5);
  write_gz(dir / "train-labels-idx1-ubyte.gz", labels_file({1, 2, 3, 4, 5}) + "\x01");
  expect_error(dir, dir / "train-labels-idx1-ubyte.gz", "trailing data");
}

TEST_CASE("gather_batch copies the chosen samples in order") {
  chorus::Dataset d;
  d.rows = 1;
  d.cols = 2;
  d.images = {0.f, 1.f, 10.f, 11.f, 20.f, 21.f};
  d.labels = {3, 4, 5};
  std::vector<float> x(100, -1.f);
  std::vector<std::int32_t> y;
  chorus::gather_batch(d, {2, 0, 2}, x, y);
  CHECK(x == std::vector<float>{20.f, 21.f, 0.f, 1.f, 20.f, 21.f});
  CHECK(y == std::vector<std::int32_t>{5, 3, 5});
  chorus::gather_batch(d, {}, x, y);
  CHECK(x.empty());
  CHECK(y.empty());
  CHECK_THROWS_AS(chorus::gather_batch(d, {3}, x, y), chorus::InvariantError);
}
