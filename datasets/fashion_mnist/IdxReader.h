#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace prunelab::datasets {

/// A block of 8-bit images read from an IDX3 file, row-major, image after image.
struct IdxImages {
  int64_t count = 0;
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<uint8_t> pixels;  // count * rows * cols bytes
};

/// Reads an IDX3 ubyte image file (gzip or plain; a missing `x.gz` falls back to `x` and vice
/// versa). `limit` >= 0 reads only the first `limit` images; -1 reads all.
IdxImages readIdxImages(const std::filesystem::path& path, int64_t limit = -1);

/// Reads an IDX1 ubyte label file (gzip or plain), the first `limit` labels or all when -1.
std::vector<uint8_t> readIdxLabels(const std::filesystem::path& path, int64_t limit = -1);

/// The images and labels of one Fashion-MNIST split.
struct FashionMnistSplit {
  IdxImages images;
  std::vector<uint8_t> labels;
};

/// Reads `{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz` under `root`, checking that the two
/// files hold the same number of items and that every label is a class index in [0, 10).
FashionMnistSplit readFashionMnist(const std::filesystem::path& root, bool train, int64_t limit = -1);

/// Number of Fashion-MNIST classes.
inline constexpr int kFashionMnistClasses = 10;

/// Human-readable Fashion-MNIST class name ("T-shirt/top", ..., "Ankle boot") for 0..9.
std::string fashionMnistClassName(int label);

}  // namespace prunelab::datasets
