#include "foundations/data/idx_reader.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

#include "foundations/base/error.h"

namespace chorus {

namespace {

constexpr unsigned kZlibBufferBytes = 1u << 20;      // zlib's input buffer
constexpr std::size_t kFirstChunkBytes = 64u << 20;  // first allocation for the data
constexpr std::size_t kMaxReadCallBytes = 1u << 30;  // gzread takes an unsigned length
constexpr std::size_t kImagesHeaderBytes = 16;
constexpr std::size_t kLabelsHeaderBytes = 8;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw UserError(path + ": " + what);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// One IDX file open for reading through zlib, which decompresses gzip data and passes plain
// data through unchanged.
class IdxStream {
 public:
  explicit IdxStream(const std::string& path) : path_(path) {
    errno = 0;
    file_.reset(gzopen(path.c_str(), "rb"));
    if (!file_)
      fail(path, fmt::format("cannot open: {}", errno ? std::strerror(errno) : "out of memory"));
    gzbuffer(file_.get(), kZlibBufferBytes);
    if (ends_with(path, ".gz") && gzdirect(file_.get())) {
      std::error_code ec;
      const auto bytes = std::filesystem::file_size(path, ec);
      if (!ec && bytes == 0) fail(path, "file is empty");
      fail(path, "not a gzip file (it does not start with the gzip signature 1f 8b)");
    }
  }
  IdxStream(const IdxStream&) = delete;
  IdxStream& operator=(const IdxStream&) = delete;

  // Reads up to n bytes into dst; fewer only when the data ends. Throws on corrupt gzip
  // data (including a checksum mismatch) and on read errors.
  std::size_t read(void* dst, std::size_t n) {
    auto* out = static_cast<unsigned char*>(dst);
    std::size_t got = 0;
    while (got < n) {
      const auto want = static_cast<unsigned>(std::min(n - got, kMaxReadCallBytes));
      const int r = gzread(file_.get(), out + got, want);
      check_error();
      if (r <= 0) break;
      got += static_cast<std::size_t>(r);
      if (static_cast<unsigned>(r) < want) break;
    }
    return got;
  }

  // Whether the gzip stream stopped before its end marker and checksum (a cut-off file).
  bool cut_short() const { return cut_short_; }

  // Appended to a "truncated" message when the gzip stream itself is cut off.
  std::string cut_short_note() const { return cut_short_ ? " (the gzip stream is cut short)" : ""; }

 private:
  void check_error() {
    int code = Z_OK;
    const char* message = gzerror(file_.get(), &code);
    if (code == Z_OK) return;
    if (code == Z_BUF_ERROR) {  // zlib's "unexpected end of file"
      cut_short_ = true;
      return;
    }
    if (code == Z_ERRNO) fail(path_, fmt::format("read error: {}", std::strerror(errno)));
    // gzerror prefixes its message with the path; keep only zlib's own words.
    std::string what = message ? message : "unknown error";
    if (what.compare(0, path_.size() + 2, path_ + ": ") == 0) what.erase(0, path_.size() + 2);
    fail(path_, fmt::format("corrupt gzip data ({})", what));
  }

  struct Closer {
    void operator()(gzFile f) const { gzclose_r(f); }
  };
  std::string path_;
  std::unique_ptr<gzFile_s, Closer> file_;
  bool cut_short_ = false;
};

std::uint32_t big_endian_u32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

// Reads the fixed-size header; throws if the magic is wrong or the file is shorter.
void read_header(IdxStream& in, const std::string& path, unsigned char* header, std::size_t bytes,
                 std::uint32_t magic, const char* kind) {
  const std::size_t got = in.read(header, bytes);
  const std::uint32_t found = got >= 4 ? big_endian_u32(header) : magic;
  if (found != magic) {
    const char* hint = found == kIdxImagesMagic   ? " (that of an IDX image file)"
                       : found == kIdxLabelsMagic ? " (that of an IDX label file)"
                                                  : "";
    fail(path, fmt::format("bad magic 0x{:08x}{}, expected 0x{:08x} for an IDX {} file", found,
                           hint, magic, kind));
  }
  if (got < bytes)
    fail(path, fmt::format("truncated: {} bytes, too short for the {}-byte IDX {} header{}", got,
                           bytes, kind, in.cut_short_note()));
}

// Reads the data after the header: up to `promised` bytes, growing the buffer as data
// actually arrives so that a header promising absurd sizes cannot exhaust memory.
std::vector<std::uint8_t> read_data(IdxStream& in, std::uint64_t promised) {
  std::vector<std::uint8_t> data;
  std::size_t capacity =
      static_cast<std::size_t>(std::min<std::uint64_t>(promised, kFirstChunkBytes));
  std::size_t got = 0;
  for (;;) {
    data.resize(capacity);
    got += in.read(data.data() + got, capacity - got);
    if (got < capacity || capacity == promised) break;
    capacity =
        static_cast<std::size_t>(std::min<std::uint64_t>(promised, std::uint64_t{capacity} * 2));
  }
  data.resize(got);
  return data;
}

// After all promised data: the file must end here, and the gzip stream must be complete
// (reading on to its end also verifies the checksum).
void expect_end(IdxStream& in, const std::string& path, const std::string& promised) {
  unsigned char extra = 0;
  if (in.read(&extra, 1) != 0)
    fail(path, fmt::format("trailing data: the file continues past the {} its header promises",
                           promised));
  if (in.cut_short())
    fail(path,
         "truncated: the gzip stream is cut short after the data (its end and checksum are "
         "missing)");
}

// Reads and checks an image file's header.
IdxHeader images_header(IdxStream& in, const std::string& path) {
  unsigned char header[kImagesHeaderBytes];
  read_header(in, path, header, sizeof header, kIdxImagesMagic, "image");
  const std::uint32_t count = big_endian_u32(header + 4);
  const std::uint32_t rows = big_endian_u32(header + 8);
  const std::uint32_t cols = big_endian_u32(header + 12);
  if (rows < 1 || rows > kIdxMaxSide || cols < 1 || cols > kIdxMaxSide)
    fail(path, fmt::format("image size {}x{} in the header is out of range (rows and columns "
                           "must be 1..{})",
                           rows, cols, kIdxMaxSide));
  if (count == 0) fail(path, "header says the file holds 0 images");
  return {count, static_cast<int>(rows), static_cast<int>(cols)};
}

// Reads and checks a label file's header.
IdxHeader labels_header(IdxStream& in, const std::string& path) {
  unsigned char header[kLabelsHeaderBytes];
  read_header(in, path, header, sizeof header, kIdxLabelsMagic, "label");
  const std::uint32_t count = big_endian_u32(header + 4);
  if (count == 0) fail(path, "header says the file holds 0 labels");
  return {count, 0, 0};
}

}  // namespace

IdxHeader read_idx_images_header(const std::string& path) {
  IdxStream in(path);
  return images_header(in, path);
}

IdxHeader read_idx_labels_header(const std::string& path) {
  IdxStream in(path);
  return labels_header(in, path);
}

IdxImages read_idx_images(const std::string& path) {
  IdxStream in(path);
  const IdxHeader header = images_header(in, path);
  const auto count = static_cast<std::uint32_t>(header.count);
  const auto rows = static_cast<std::uint32_t>(header.rows);
  const auto cols = static_cast<std::uint32_t>(header.cols);

  const std::uint64_t image_bytes = std::uint64_t{rows} * cols;
  const std::uint64_t promised = image_bytes * count;
  const std::string promise = fmt::format("{} images of {}x{}", count, rows, cols);
  IdxImages out;
  out.pixels = read_data(in, promised);
  if (out.pixels.size() < promised) {
    const std::uint64_t whole = out.pixels.size() / image_bytes;
    const std::uint64_t partial = out.pixels.size() % image_bytes;
    fail(path,
         fmt::format("truncated: header promises {}, file holds {}{}{}", promise, whole,
                     partial ? fmt::format(" and {} of {} bytes of the next", partial, image_bytes)
                             : std::string(),
                     in.cut_short_note()));
  }
  expect_end(in, path, promise);
  out.count = count;
  out.rows = static_cast<int>(rows);
  out.cols = static_cast<int>(cols);
  return out;
}

IdxLabels read_idx_labels(const std::string& path, int classes) {
  CHORUS_CHECK(classes >= 1 && classes <= 256, "label classes must fit in a byte");
  IdxStream in(path);
  const auto count = static_cast<std::uint32_t>(labels_header(in, path).count);

  IdxLabels out;
  out.labels = read_data(in, count);
  if (out.labels.size() < count)
    fail(path, fmt::format("truncated: header promises {} labels, file holds {}{}", count,
                           out.labels.size(), in.cut_short_note()));
  expect_end(in, path, fmt::format("{} labels", count));
  for (std::size_t i = 0; i < out.labels.size(); ++i)
    if (out.labels[i] >= classes)
      fail(path, fmt::format("label {} at index {} is out of range (classes are 0..{})",
                             out.labels[i], i, classes - 1));
  return out;
}

}  // namespace chorus
