#include "datasets/fashion_mnist/IdxReader.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <string>

#include "framework/core/Error.h"

namespace prunelab::datasets {

namespace {

namespace fs = std::filesystem;

constexpr uint32_t kImagesMagic = 0x00000803;  // ubyte, 3 dimensions
constexpr uint32_t kLabelsMagic = 0x00000801;  // ubyte, 1 dimension
constexpr int64_t kMaxSide = 4096;
// Far above any IDX dataset; a header claiming more is corrupt, not big.
constexpr int64_t kMaxItems = int64_t(1) << 28;
constexpr int64_t kMaxBytes = int64_t(1) << 34;
// Read in chunks so a header that lies about its size cannot force a huge allocation.
constexpr size_t kChunk = size_t(1) << 24;

constexpr const char* kReinstallFix =
    "reinstall dataset-fashion-mnist (apt-get install --reinstall dataset-fashion-mnist) or set "
    "dataset.root to a directory with intact IDX files";

bool hasGzSuffix(const fs::path& path) { return path.extension() == ".gz"; }

// The given path if it exists; otherwise the same name with ".gz" added or removed.
fs::path resolveIdxPath(const fs::path& path) {
  std::error_code ec;
  if (fs::exists(path, ec)) {
    return path;
  }
  fs::path alternative = hasGzSuffix(path) ? path.parent_path() / path.stem() : fs::path(path.string() + ".gz");
  if (fs::exists(alternative, ec)) {
    return alternative;
  }
  PL_THROW(
      "IDX file '{}' not found (also tried '{}'); install the dataset with `apt-get install "
      "dataset-fashion-mnist` (files go to /usr/share/datasets/fashion-mnist) or set dataset.root=... to "
      "the directory that holds it",
      path.string(), alternative.string());
}

// A gzip (or, transparently, plain) file read through zlib, closed on scope exit.
class IdxStream {
 public:
  explicit IdxStream(const fs::path& requested) : path_(resolveIdxPath(requested)) {
    if (hasGzSuffix(path_)) {
      checkGzipMagic();
    }
    file_ = gzopen(path_.c_str(), "rb");
    PL_CHECK(file_ != nullptr, "cannot open IDX file '{}': {}; check its permissions or set dataset.root=...",
             path_.string(), std::strerror(errno));
  }
  IdxStream(const IdxStream&) = delete;
  IdxStream& operator=(const IdxStream&) = delete;
  ~IdxStream() {
    if (file_ != nullptr) {
      gzclose(file_);
    }
  }

  const fs::path& path() const { return path_; }

  // Reads up to n bytes; fewer only at end of file (or of a truncated gzip stream).
  size_t read(uint8_t* dst, size_t n) {
    size_t total = 0;
    while (total < n) {
      unsigned want = static_cast<unsigned>(std::min<size_t>(n - total, size_t(1) << 30));
      int got = gzread(file_, dst + total, want);
      if (got < 0) {
        int errnum = 0;
        const char* message = gzerror(file_, &errnum);
        PL_THROW("IDX file '{}' is not a valid gzip stream (zlib: {}); {}", path_.string(), message, kReinstallFix);
      }
      if (got == 0) {
        break;
      }
      total += static_cast<size_t>(got);
    }
    return total;
  }

  // zlib's note on why the stream ended early, or "" if it simply ended.
  std::string endNote() {
    int errnum = Z_OK;
    const char* message = gzerror(file_, &errnum);
    return errnum == Z_OK ? std::string() : fmt::format(" (zlib: {})", message);
  }

 private:
  // zlib would read a non-gzip ".gz" transparently as raw bytes; say plainly that it is not gzip.
  void checkGzipMagic() const {
    std::ifstream in(path_, std::ios::binary);
    PL_CHECK(in.good(), "cannot open IDX file '{}'; check its permissions or set dataset.root=...", path_.string());
    std::array<unsigned char, 2> head{};
    in.read(reinterpret_cast<char*>(head.data()), head.size());
    PL_CHECK(in.gcount() == 2 && head[0] == 0x1f && head[1] == 0x8b,
             "IDX file '{}' is named .gz but is not gzip data (expected bytes 1f 8b at the start); {}", path_.string(),
             kReinstallFix);
  }

  fs::path path_;
  gzFile file_ = nullptr;
};

uint32_t bigEndian32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

// Reads the magic and the `dims` sizes that follow it.
std::vector<int64_t> readHeader(IdxStream& in, uint32_t magic, int dims, const char* kind) {
  std::vector<uint8_t> bytes(4 * (1 + dims));
  size_t got = in.read(bytes.data(), bytes.size());
  PL_CHECK(got == bytes.size(), "IDX file '{}' is truncated: its header needs {} bytes, got {}{}; {}",
           in.path().string(), bytes.size(), got, in.endNote(), kReinstallFix);
  uint32_t found = bigEndian32(bytes.data());
  PL_CHECK(found == magic,
           "IDX file '{}' has magic number 0x{:08x}, expected 0x{:08x} for IDX {}; it is the wrong file or "
           "corrupt — check the path, or {}",
           in.path().string(), found, magic, kind, kReinstallFix);
  std::vector<int64_t> sizes;
  for (int d = 0; d < dims; ++d) {
    sizes.push_back(bigEndian32(bytes.data() + 4 * (1 + d)));
  }
  return sizes;
}

int64_t effectiveCount(int64_t headerCount, int64_t limit, const fs::path& path) {
  PL_CHECK(limit >= -1, "invalid limit {} for IDX file '{}'; use -1 for all items or a count >= 0", limit,
           path.string());
  return limit < 0 ? headerCount : std::min(headerCount, limit);
}

std::vector<uint8_t> readBody(IdxStream& in, int64_t bytes, const std::string& what) {
  std::vector<uint8_t> data;
  size_t want = static_cast<size_t>(bytes);
  size_t have = 0;
  while (have < want) {
    size_t step = std::min(kChunk, want - have);
    data.resize(have + step);
    size_t got = in.read(data.data() + have, step);
    have += got;
    if (got < step) {
      PL_THROW("IDX file '{}' is truncated: the header promises {} ({} bytes of data), got {} bytes{}; {}",
               in.path().string(), what, want, have, in.endNote(), kReinstallFix);
    }
  }
  return data;
}

struct ImagesHeader {
  int64_t count, rows, cols;
};

ImagesHeader readImagesHeader(IdxStream& in) {
  std::vector<int64_t> s = readHeader(in, kImagesMagic, 3, "images (idx3-ubyte)");
  ImagesHeader h{s[0], s[1], s[2]};
  PL_CHECK(h.count > 0 && h.count <= kMaxItems,
           "IDX file '{}' declares {} images, expected 1..{}; the header is corrupt — {}", in.path().string(), h.count,
           kMaxItems, kReinstallFix);
  PL_CHECK(h.rows > 0 && h.rows <= kMaxSide && h.cols > 0 && h.cols <= kMaxSide,
           "IDX file '{}' declares images of {}x{}, expected each side in 1..{}; the header is corrupt — {}",
           in.path().string(), h.rows, h.cols, kMaxSide, kReinstallFix);
  PL_CHECK(h.count * h.rows * h.cols <= kMaxBytes,
           "IDX file '{}' declares {} images of {}x{} ({} bytes), more than the {} bytes allowed; the header is "
           "corrupt — {}",
           in.path().string(), h.count, h.rows, h.cols, h.count * h.rows * h.cols, kMaxBytes, kReinstallFix);
  return h;
}

int64_t readLabelsHeader(IdxStream& in) {
  int64_t count = readHeader(in, kLabelsMagic, 1, "labels (idx1-ubyte)")[0];
  PL_CHECK(count > 0 && count <= kMaxItems,
           "IDX file '{}' declares {} labels, expected 1..{}; the header is corrupt — {}", in.path().string(), count,
           kMaxItems, kReinstallFix);
  return count;
}

IdxImages readImagesBody(IdxStream& in, const ImagesHeader& h, int64_t limit) {
  IdxImages images;
  images.count = effectiveCount(h.count, limit, in.path());
  images.rows = h.rows;
  images.cols = h.cols;
  images.pixels =
      readBody(in, images.count * h.rows * h.cols, fmt::format("{} images of {}x{}", images.count, h.rows, h.cols));
  return images;
}

std::vector<uint8_t> readLabelsBody(IdxStream& in, int64_t headerCount, int64_t limit) {
  int64_t count = effectiveCount(headerCount, limit, in.path());
  return readBody(in, count, fmt::format("{} labels", count));
}

}  // namespace

IdxImages readIdxImages(const std::filesystem::path& path, int64_t limit) {
  IdxStream in(path);
  ImagesHeader header = readImagesHeader(in);
  return readImagesBody(in, header, limit);
}

std::vector<uint8_t> readIdxLabels(const std::filesystem::path& path, int64_t limit) {
  IdxStream in(path);
  int64_t count = readLabelsHeader(in);
  return readLabelsBody(in, count, limit);
}

FashionMnistSplit readFashionMnist(const std::filesystem::path& root, bool train, int64_t limit) {
  const std::string prefix = train ? "train" : "t10k";
  IdxStream imagesIn(root / (prefix + "-images-idx3-ubyte.gz"));
  IdxStream labelsIn(root / (prefix + "-labels-idx1-ubyte.gz"));
  ImagesHeader imagesHeader = readImagesHeader(imagesIn);
  int64_t labelCount = readLabelsHeader(labelsIn);
  PL_CHECK(imagesHeader.count == labelCount,
           "Fashion-MNIST {} split under '{}' is inconsistent: '{}' holds {} images but '{}' holds {} labels; "
           "the files come from different datasets or one is corrupt — {}",
           prefix, root.string(), imagesIn.path().filename().string(), imagesHeader.count,
           labelsIn.path().filename().string(), labelCount, kReinstallFix);

  FashionMnistSplit split;
  split.images = readImagesBody(imagesIn, imagesHeader, limit);
  split.labels = readLabelsBody(labelsIn, labelCount, limit);
  for (size_t i = 0; i < split.labels.size(); ++i) {
    PL_CHECK(split.labels[i] < kFashionMnistClasses,
             "IDX file '{}' has label {} at item {}, but Fashion-MNIST labels are 0..{}; the file is corrupt or "
             "not Fashion-MNIST — {}",
             labelsIn.path().string(), int(split.labels[i]), i, kFashionMnistClasses - 1, kReinstallFix);
  }
  return split;
}

std::string fashionMnistClassName(int label) {
  static const std::array<const char*, kFashionMnistClasses> kNames = {
      "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
  PL_CHECK(label >= 0 && label < kFashionMnistClasses, "Fashion-MNIST class {} does not exist; class indices are 0..{}",
           label, kFashionMnistClasses - 1);
  return kNames[static_cast<size_t>(label)];
}

}  // namespace prunelab::datasets
