#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "framework/core/Error.h"
#include "framework/data/Dataset.h"

namespace prunelab::testing {

/// A split made of named tensors (first dimension = examples).
class TensorDataset : public data::Dataset {
 public:
  explicit TensorDataset(std::map<std::string, torch::Tensor> fields) : fields_(std::move(fields)) {}
  std::int64_t size() const override { return fields_.begin()->second.size(0); }
  model::Batch get(const std::vector<std::int64_t>& indices) const override {
    model::Batch b;
    const auto idx = torch::tensor(indices, torch::kInt64);
    for (const auto& [name, t] : fields_) b.set(name, t.index_select(0, idx));
    return b;
  }

 private:
  std::map<std::string, torch::Tensor> fields_;
};

/// A text-only data source: splits of "tokens" rows ([PAD] = 0) given by the test, and a count of
/// split() calls (to tell a cache hit from a retrain).
class TextSource : public data::DataSource {
 public:
  explicit TextSource(std::map<std::string, torch::Tensor> splits, std::string fingerprint = "text-source-1")
      : fingerprint_(std::move(fingerprint)) {
    for (auto& [name, tokens] : splits)
      splits_[name] = std::make_shared<TensorDataset>(std::map<std::string, torch::Tensor>{{"tokens", tokens}});
  }
  void prepare() override {}
  std::shared_ptr<const data::Dataset> split(const std::string& name) const override {
    ++splitCalls;
    auto it = splits_.find(name);
    PL_CHECK(it != splits_.end(), "TextSource has no split '{}'", name);
    return it->second;
  }
  std::vector<std::string> splits() const override {
    std::vector<std::string> out;
    for (const auto& [k, v] : splits_) out.push_back(k);
    return out;
  }
  std::string fingerprint() const override { return fingerprint_; }
  std::string name() const override { return "text"; }

  mutable int splitCalls = 0;

 private:
  std::map<std::string, std::shared_ptr<const data::Dataset>> splits_;
  std::string fingerprint_;
};

/// `rows` sentences of a toy language over ids 6..(6+words-1), framed [BOS]=2 ... [EOS]=3 and
/// right-padded with 0 to `length`: sentence i counts upwards from word (i mod words), so each
/// next token is predictable from the previous one.
inline torch::Tensor countingSentences(std::int64_t rows, std::int64_t length, std::int64_t words) {
  auto t = torch::zeros({rows, length}, torch::kInt64);
  auto a = t.accessor<std::int64_t, 2>();
  for (std::int64_t i = 0; i < rows; ++i) {
    const std::int64_t n = 3 + i % (length - 4);
    a[i][0] = 2;
    for (std::int64_t j = 0; j < n; ++j) a[i][1 + j] = 6 + (i + j) % words;
    a[i][1 + n] = 3;
  }
  return t;
}

}  // namespace prunelab::testing
