#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "framework/core/Error.h"
#include "framework/data/Dataset.h"

namespace prunelab::datasets {

/// Fashion-MNIST image classification (Debian's dataset-fashion-mnist): splits train (the first
/// part of the 60k training images), val (the held-out last `val_size` training images) and test
/// (the 10k test images). Batches hold "images" [B,1,28,28] float in [0,1] and "labels" [B] int64.
class FashionMnist : public data::DataSource {
 public:
  struct Options {
    std::string root = "/usr/share/datasets/fashion-mnist";
    std::int64_t train_limit = -1;
    std::int64_t val_size = 5000;
    std::int64_t test_limit = -1;

    template <class V>
    void visit(V& v) {
      v(root, "root", "folder with the gzip IDX files (apt-get install dataset-fashion-mnist)");
      v(train_limit, "train_limit", "use only the first N training images (-1 = all but val)");
      v(val_size, "val_size", "training images held out as the val split (taken from the end)");
      v(test_limit, "test_limit", "use only the first N test images (-1 = all 10k)");
    }
    void validate() const {
      PL_CHECK(val_size >= 0, "val_size must be >= 0, got {}", val_size);
      PL_CHECK(train_limit == -1 || train_limit > 0, "train_limit must be -1 (all) or positive, got {}", train_limit);
      PL_CHECK(test_limit == -1 || test_limit > 0, "test_limit must be -1 (all) or positive, got {}", test_limit);
    }
  };

  explicit FashionMnist(Options options);
  void prepare() override;
  std::shared_ptr<const data::Dataset> split(const std::string& name) const override;
  std::vector<std::string> splits() const override;
  std::string fingerprint() const override;
  std::string name() const override { return "fashion_mnist"; }

 private:
  Options options_;
  std::map<std::string, std::shared_ptr<const data::Dataset>> splits_;
  std::string fingerprint_;
};

/// In-memory image/label tensors as a Dataset.
class TensorImageDataset : public data::Dataset {
 public:
  TensorImageDataset(torch::Tensor images, torch::Tensor labels);
  std::int64_t size() const override { return images_.size(0); }
  model::Batch get(const std::vector<std::int64_t>& indices) const override;

 private:
  torch::Tensor images_, labels_;
};

}  // namespace prunelab::datasets
