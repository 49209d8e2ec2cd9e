#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "framework/core/Error.h"
#include "framework/data/Dataset.h"
#include "framework/model/Model.h"

namespace prunelab::testing {

/// A hand-built dual encoder: an image's embedding is its "images" row [D] normalised, a text's the
/// row of `table` picked by its second token (the first is [BOS]), normalised. No weights, no stacks.
class FakeContrastiveModel : public model::Model, public model::ContrastiveHead {
 public:
  explicit FakeContrastiveModel(torch::Tensor table) : table_(std::move(table)) {}
  void prepare(const model::ModelContext&) override {}
  std::vector<model::StackInfo> stacks() const override { return {}; }
  std::vector<model::LinearRef> linears() override { return {}; }
  torch::nn::Module& module() override { return module_; }
  torch::Tensor loss(const model::Batch&) override { return torch::zeros({}); }
  model::Batch stackInputs(const std::string&, const model::Batch& b) override { return b; }
  model::Batch forwardBlock(const std::string&, int, const model::Batch& s) override { return s; }
  std::string weightsId() const override { return "fake"; }

  torch::Tensor imageEmbeddings(const model::Batch& batch) override { return unit(batch.at("images")); }
  torch::Tensor textEmbeddings(const torch::Tensor& tokens) override {
    ++textCalls;
    return unit(table_.index_select(0, tokens.select(1, 1)));
  }
  double logitScale() const override { return 100.0; }

  int textCalls = 0;

 private:
  static torch::Tensor unit(const torch::Tensor& x) { return x / x.norm(2, 1, true); }
  torch::Tensor table_;
  torch::nn::Module module_;
};

/// FakeContrastiveModel with an ITM head: the logit of (image, text) is logits[image][text - 10], where
/// image is the batch field "image_index" and text the second token (as for the text embeddings).
/// Counts the calls and the pairs scored.
class FakeMatchingModel : public FakeContrastiveModel, public model::MatchingHead {
 public:
  FakeMatchingModel(torch::Tensor table, torch::Tensor logits)
      : FakeContrastiveModel(std::move(table)), logits_(std::move(logits)) {}
  torch::Tensor matchLogits(const model::Batch& images, const torch::Tensor& tokens) override {
    ++matchCalls;
    pairsScored += tokens.size(0);
    const auto image = images.at("image_index").to(torch::kInt64);
    PL_CHECK(image.size(0) == tokens.size(0), "FakeMatchingModel: {} images for {} texts", image.size(0),
             tokens.size(0));
    return logits_.index({image, tokens.select(1, 1) - 10});
  }

  int matchCalls = 0;
  std::int64_t pairsScored = 0;

 private:
  torch::Tensor logits_;
};

/// Splits of named tensors (first dimension = examples).
class FakeSource : public data::DataSource {
 public:
  class Split : public data::Dataset {
   public:
    explicit Split(std::map<std::string, torch::Tensor> f) : fields_(std::move(f)) {}
    std::int64_t size() const override { return fields_.begin()->second.size(0); }
    model::Batch get(const std::vector<std::int64_t>& indices) const override {
      model::Batch b;
      for (const auto& [name, t] : fields_) b.set(name, t.index_select(0, torch::tensor(indices, torch::kInt64)));
      return b;
    }

   private:
    std::map<std::string, torch::Tensor> fields_;
  };

  FakeSource& add(const std::string& name, std::map<std::string, torch::Tensor> fields) {
    splits_[name] = std::make_shared<Split>(std::move(fields));
    return *this;
  }
  void prepare() override {}
  std::shared_ptr<const data::Dataset> split(const std::string& name) const override {
    auto it = splits_.find(name);
    PL_CHECK(it != splits_.end(), "FakeSource has no split '{}'", name);
    return it->second;
  }
  std::vector<std::string> splits() const override {
    std::vector<std::string> out;
    for (const auto& [k, v] : splits_) out.push_back(k);
    return out;
  }
  std::string fingerprint() const override { return "fake"; }
  std::string name() const override { return "fake"; }

 private:
  std::map<std::string, std::shared_ptr<const data::Dataset>> splits_;
};

}  // namespace prunelab::testing
