#include <gtest/gtest.h>

#include "tests/support/Fixtures.h"
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "datasets/fashion_mnist/IdxReader.h"
#include "framework/core/Error.h"

namespace prunelab::datasets {
namespace {

namespace fs = std::filesystem;

using Bytes = std::vector<uint8_t>;

void appendBigEndian32(Bytes& out, uint32_t v) {
  out.push_back(uint8_t(v >> 24));
  out.push_back(uint8_t(v >> 16));
  out.push_back(uint8_t(v >> 8));
  out.push_back(uint8_t(v));
}

Bytes imagesFile(uint32_t count, uint32_t rows, uint32_t cols, const Bytes& pixels, uint32_t magic = 0x803) {
  Bytes out;
  appendBigEndian32(out, magic);
  appendBigEndian32(out, count);
  appendBigEndian32(out, rows);
  appendBigEndian32(out, cols);
  out.insert(out.end(), pixels.begin(), pixels.end());
  return out;
}

Bytes labelsFile(uint32_t count, const Bytes& labels, uint32_t magic = 0x801) {
  Bytes out;
  appendBigEndian32(out, magic);
  appendBigEndian32(out, count);
  out.insert(out.end(), labels.begin(), labels.end());
  return out;
}

Bytes iota(size_t n) {
  Bytes out(n);
  for (size_t i = 0; i < n; ++i) {
    out[i] = uint8_t(i * 7 + 3);
  }
  return out;
}

void writeGz(const fs::path& path, const Bytes& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  if (!bytes.empty()) {
    ASSERT_EQ(gzwrite(f, bytes.data(), unsigned(bytes.size())), int(bytes.size()));
  }
  ASSERT_EQ(gzclose(f), Z_OK);
}

void writePlain(const fs::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  ASSERT_TRUE(out.good());
}

Bytes readPlain(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Runs fn, expecting a prunelab::Error whose message contains every fragment.
void expectError(const std::function<void()>& fn, const std::vector<std::string>& fragments) {
  try {
    fn();
    ADD_FAILURE() << "expected prunelab::Error containing '" << fragments.front() << "'";
  } catch (const Error& e) {
    std::string message = e.what();
    for (const std::string& fragment : fragments) {
      EXPECT_NE(message.find(fragment), std::string::npos) << "message: " << message << "\nmissing: " << fragment;
    }
  }
}

class IdxReaderTest : public ::testing::Test {
 protected:
  // Writes a consistent t10k split of `count` 2x3 images under dir_.
  void writeSplit(uint32_t count, const Bytes& labels) {
    writeGz(dir_ / "t10k-images-idx3-ubyte.gz", imagesFile(count, 2, 3, iota(count * 6)));
    writeGz(dir_ / "t10k-labels-idx1-ubyte.gz", labelsFile(uint32_t(labels.size()), labels));
  }

  prunelab::testing::TempDir tmp_;
  fs::path dir_{tmp_.path()};
};

TEST_F(IdxReaderTest, ReadsGzipImagesAndLabels) {
  Bytes pixels = iota(4 * 3 * 5);
  writeGz(dir_ / "img.gz", imagesFile(4, 3, 5, pixels));
  writeGz(dir_ / "lab.gz", labelsFile(4, {9, 0, 3, 7}));

  IdxImages images = readIdxImages(dir_ / "img.gz");
  EXPECT_EQ(images.count, 4);
  EXPECT_EQ(images.rows, 3);
  EXPECT_EQ(images.cols, 5);
  EXPECT_EQ(images.pixels, pixels);
  EXPECT_EQ(readIdxLabels(dir_ / "lab.gz"), (Bytes{9, 0, 3, 7}));
}

TEST_F(IdxReaderTest, ReadsPlainFilesAndFallsBackFromMissingGz) {
  Bytes pixels = iota(2 * 4 * 4);
  writePlain(dir_ / "img", imagesFile(2, 4, 4, pixels));
  writePlain(dir_ / "lab", labelsFile(2, {1, 2}));

  EXPECT_EQ(readIdxImages(dir_ / "img").pixels, pixels);
  EXPECT_EQ(readIdxImages(dir_ / "img.gz").pixels, pixels);
  EXPECT_EQ(readIdxLabels(dir_ / "lab.gz"), (Bytes{1, 2}));
}

TEST_F(IdxReaderTest, FallsBackFromMissingPlainToGz) {
  writeGz(dir_ / "lab.gz", labelsFile(3, {4, 5, 6}));
  EXPECT_EQ(readIdxLabels(dir_ / "lab"), (Bytes{4, 5, 6}));
}

TEST_F(IdxReaderTest, LimitReadsOnlyTheFirstItems) {
  Bytes pixels = iota(5 * 2 * 2);
  writeGz(dir_ / "img.gz", imagesFile(5, 2, 2, pixels));
  writeGz(dir_ / "lab.gz", labelsFile(5, {0, 1, 2, 3, 4}));

  IdxImages images = readIdxImages(dir_ / "img.gz", 2);
  EXPECT_EQ(images.count, 2);
  EXPECT_EQ(images.pixels, Bytes(pixels.begin(), pixels.begin() + 8));
  EXPECT_EQ(readIdxLabels(dir_ / "lab.gz", 3), (Bytes{0, 1, 2}));
  EXPECT_EQ(readIdxLabels(dir_ / "lab.gz", 0), Bytes{});
  EXPECT_EQ(readIdxImages(dir_ / "img.gz", 100).count, 5);
  expectError([&] { readIdxLabels(dir_ / "lab.gz", -2); }, {"invalid limit -2"});
}

TEST_F(IdxReaderTest, ReadsFashionMnistSplit) {
  writeSplit(3, {0, 9, 5});
  FashionMnistSplit split = readFashionMnist(dir_, false);
  EXPECT_EQ(split.images.count, 3);
  EXPECT_EQ(split.images.pixels, iota(18));
  EXPECT_EQ(split.labels, (Bytes{0, 9, 5}));

  FashionMnistSplit limited = readFashionMnist(dir_, false, 1);
  EXPECT_EQ(limited.images.count, 1);
  EXPECT_EQ(limited.labels, Bytes{0});
}

TEST_F(IdxReaderTest, RejectsBadMagic) {
  writeGz(dir_ / "img.gz", imagesFile(1, 2, 2, iota(4), 0x801));
  expectError([&] { readIdxImages(dir_ / "img.gz"); }, {"img.gz", "magic number 0x00000801", "expected 0x00000803"});
  writeGz(dir_ / "lab.gz", labelsFile(1, {1}, 0x803));
  expectError([&] { readIdxLabels(dir_ / "lab.gz"); }, {"lab.gz", "magic number 0x00000803", "expected 0x00000801"});
}

TEST_F(IdxReaderTest, RejectsTruncatedData) {
  writeGz(dir_ / "img.gz", imagesFile(5, 2, 2, iota(3 * 4)));
  expectError([&] { readIdxImages(dir_ / "img.gz"); },
              {"img.gz", "truncated", "5 images of 2x2", "20 bytes", "got 12", "apt-get install --reinstall"});
  writePlain(dir_ / "lab", labelsFile(4, {1, 2}));
  expectError([&] { readIdxLabels(dir_ / "lab"); }, {"truncated", "4 labels", "got 2 bytes"});
  // The limit only needs the items it reads.
  EXPECT_EQ(readIdxLabels(dir_ / "lab", 2), (Bytes{1, 2}));
}

TEST_F(IdxReaderTest, RejectsTruncatedHeader) {
  Bytes header = imagesFile(1, 2, 2, {});
  writeGz(dir_ / "img.gz", Bytes(header.begin(), header.begin() + 10));
  expectError([&] { readIdxImages(dir_ / "img.gz"); }, {"truncated", "header needs 16 bytes, got 10"});
}

TEST_F(IdxReaderTest, RejectsTruncatedGzipStream) {
  writeGz(dir_ / "full.gz", imagesFile(50, 8, 8, iota(50 * 64)));
  Bytes gz = readPlain(dir_ / "full.gz");
  writePlain(dir_ / "cut.gz", Bytes(gz.begin(), gz.begin() + gz.size() / 2));
  expectError([&] { readIdxImages(dir_ / "cut.gz"); }, {"cut.gz", "truncated", "3200 bytes"});
}

TEST_F(IdxReaderTest, RejectsInsaneDimensions) {
  writeGz(dir_ / "zero.gz", imagesFile(1, 0, 2, {}));
  expectError([&] { readIdxImages(dir_ / "zero.gz"); }, {"images of 0x2", "header is corrupt"});
  writeGz(dir_ / "none.gz", imagesFile(0, 2, 2, {}));
  expectError([&] { readIdxImages(dir_ / "none.gz"); }, {"declares 0 images"});
  writeGz(dir_ / "huge.gz", imagesFile(1, 100000, 2, {}));
  expectError([&] { readIdxImages(dir_ / "huge.gz"); }, {"images of 100000x2"});
  writeGz(dir_ / "many.gz", imagesFile(0xFFFFFFFFu, 28, 28, {}));
  expectError([&] { readIdxImages(dir_ / "many.gz"); }, {"declares 4294967295 images"});
}

TEST_F(IdxReaderTest, RejectsCountMismatchBetweenImagesAndLabels) {
  writeSplit(3, {0, 1});
  expectError([&] { readFashionMnist(dir_, false, 1); },
              {"t10k-images-idx3-ubyte.gz", "holds 3 images", "holds 2 labels"});
}

TEST_F(IdxReaderTest, RejectsLabelsOutOfRange) {
  writeSplit(3, {0, 10, 1});
  expectError([&] { readFashionMnist(dir_, false); }, {"t10k-labels-idx1-ubyte.gz", "label 10 at item 1"});
}

TEST_F(IdxReaderTest, MissingFileNamesPathAndFix) {
  expectError([&] { readIdxImages(dir_ / "nope-idx3-ubyte.gz"); },
              {"nope-idx3-ubyte.gz", "not found", "apt-get install dataset-fashion-mnist", "dataset.root="});
  expectError([&] { readFashionMnist(dir_, true); }, {"train-images-idx3-ubyte.gz", "not found"});
}

TEST_F(IdxReaderTest, RejectsGarbageThatIsNotGzip) {
  writePlain(dir_ / "img.gz", Bytes{'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '!', 0, 0, 0, 0});
  expectError([&] { readIdxImages(dir_ / "img.gz"); }, {"img.gz", "not gzip data"});
}

TEST_F(IdxReaderTest, RejectsCorruptGzip) {
  // Gzip magic followed by an invalid compression method and junk.
  writePlain(dir_ / "img.gz", Bytes{0x1f, 0x8b, 0x63, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  expectError([&] { readIdxImages(dir_ / "img.gz"); }, {"img.gz", "not a valid gzip stream"});
}

TEST(FashionMnistClassName, NamesAllClasses) {
  EXPECT_EQ(fashionMnistClassName(0), "T-shirt/top");
  EXPECT_EQ(fashionMnistClassName(6), "Shirt");
  EXPECT_EQ(fashionMnistClassName(9), "Ankle boot");
  EXPECT_THROW(fashionMnistClassName(10), Error);
  EXPECT_THROW(fashionMnistClassName(-1), Error);
}

TEST(FashionMnistInstalled, ReadsFirstHundredTestItems) {
  const fs::path root = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(root / "t10k-images-idx3-ubyte.gz") || !fs::exists(root / "t10k-labels-idx1-ubyte.gz")) {
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
  FashionMnistSplit split = readFashionMnist(root, false, 100);
  EXPECT_EQ(split.images.count, 100);
  EXPECT_EQ(split.images.rows, 28);
  EXPECT_EQ(split.images.cols, 28);
  EXPECT_EQ(split.images.pixels.size(), 100u * 28 * 28);
  ASSERT_EQ(split.labels.size(), 100u);
  for (uint8_t label : split.labels) {
    EXPECT_LT(label, 10);
  }
  // The published t10k set opens with an ankle boot (9) then a pullover (2).
  EXPECT_EQ(split.labels[0], 9);
  EXPECT_EQ(split.labels[1], 2);
}

}  // namespace
}  // namespace prunelab::datasets
