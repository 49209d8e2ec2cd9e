#include "datasets/fashion_mnist/FashionMnist.h"

#include <filesystem>

#include "datasets/fashion_mnist/IdxReader.h"
#include "framework/core/Hash.h"
#include "framework/core/Suggest.h"

namespace prunelab::datasets {

namespace fs = std::filesystem;

namespace {
torch::Tensor toImages(const IdxImages& images, std::int64_t begin, std::int64_t end) {
  const auto pixels = images.rows * images.cols;
  auto t = torch::from_blob(const_cast<std::uint8_t*>(images.pixels.data()) + begin * pixels,
                            {end - begin, 1, images.rows, images.cols}, torch::kUInt8);
  return t.to(torch::kFloat32).div_(255.0);
}

torch::Tensor toLabels(const std::vector<std::uint8_t>& labels, std::int64_t begin, std::int64_t end) {
  auto t = torch::from_blob(const_cast<std::uint8_t*>(labels.data()) + begin, {end - begin}, torch::kUInt8);
  return t.to(torch::kInt64);
}

fs::path sourceFile(const fs::path& root, const std::string& stem) {
  fs::path gz = root / (stem + ".gz");
  return fs::exists(gz) ? gz : root / stem;
}
}  // namespace

TensorImageDataset::TensorImageDataset(torch::Tensor images, torch::Tensor labels)
    : images_(std::move(images)), labels_(std::move(labels)) {}

model::Batch TensorImageDataset::get(const std::vector<std::int64_t>& indices) const {
  auto idx = torch::tensor(indices, torch::kInt64);
  model::Batch b;
  b.set("images", images_.index_select(0, idx)).set("labels", labels_.index_select(0, idx));
  return b;
}

FashionMnist::FashionMnist(Options options) : options_(std::move(options)) {}

void FashionMnist::prepare() {
  if (!splits_.empty()) return;
  const fs::path root = options_.root;
  auto train = readFashionMnist(root, /*train=*/true);
  const std::int64_t n = train.images.count;
  PL_CHECK(options_.val_size < n, "dataset.val_size={} leaves no training images (the training set has {})",
           options_.val_size, n);
  const std::int64_t trainEnd = n - options_.val_size;
  const std::int64_t trainUsed = options_.train_limit < 0 ? trainEnd : std::min(options_.train_limit, trainEnd);
  splits_["train"] = std::make_shared<TensorImageDataset>(toImages(train.images, 0, trainUsed),
                                                          toLabels(train.labels, 0, trainUsed));
  splits_["val"] = std::make_shared<TensorImageDataset>(toImages(train.images, trainEnd, n),
                                                        toLabels(train.labels, trainEnd, n));
  auto test = readFashionMnist(root, /*train=*/false, options_.test_limit);
  splits_["test"] = std::make_shared<TensorImageDataset>(toImages(test.images, 0, test.images.count),
                                                         toLabels(test.labels, 0, test.images.count));

  Sha256 h;
  for (const char* stem : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                           "t10k-labels-idx1-ubyte"}) {
    const std::string fileHash = sha256File(sourceFile(root, stem));
    h.update(fileHash.data(), fileHash.size());
  }
  const std::string params = fmt::format("train_limit={};val_size={};test_limit={}", options_.train_limit,
                                         options_.val_size, options_.test_limit);
  h.update(params.data(), params.size());
  fingerprint_ = h.hex();
}

std::shared_ptr<const data::Dataset> FashionMnist::split(const std::string& name) const {
  PL_CHECK(!splits_.empty(), "fashion_mnist: split '{}' requested before prepare()", name);
  auto it = splits_.find(name);
  PL_CHECK(it != splits_.end(), "fashion_mnist has no split '{}'{}; splits: {}", name, didYouMean(name, splits()),
           quotedList(splits()));
  return it->second;
}

std::vector<std::string> FashionMnist::splits() const { return {"test", "train", "val"}; }

std::string FashionMnist::fingerprint() const { return fingerprint_; }

}  // namespace prunelab::datasets
