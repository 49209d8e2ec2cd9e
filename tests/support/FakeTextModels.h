#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "datasets/fashion_scenes/WordTokenizer.h"
#include "framework/core/Error.h"
#include "framework/data/Dataset.h"
#include "framework/data/TextSource.h"
#include "framework/model/Model.h"
#include "framework/model/PrunableLinear.h"
#include "tests/support/TextSource.h"

namespace prunelab::testing {

/// A data source with text: splits of named tensors, a word tokenizer over `words`, and the VQA
/// questions, COCO captions and class names of its splits, all given by the test.
class FakeTextSource : public data::DataSource, public data::TextSource {
 public:
  explicit FakeTextSource(const std::vector<std::string>& words, std::int64_t maxTextLength = 16)
      : tokenizer_(words), maxTextLength_(maxTextLength) {}

  FakeTextSource& add(const std::string& name, std::map<std::string, torch::Tensor> fields) {
    splits_[name] = std::make_shared<TensorDataset>(std::move(fields));
    return *this;
  }
  void prepare() override {}
  std::shared_ptr<const data::Dataset> split(const std::string& name) const override {
    auto it = splits_.find(name);
    PL_CHECK(it != splits_.end(), "FakeTextSource has no split '{}'", name);
    return it->second;
  }
  std::vector<std::string> splits() const override {
    std::vector<std::string> out;
    for (const auto& [k, v] : splits_) out.push_back(k);
    return out;
  }
  std::string fingerprint() const override { return "fake-text"; }
  std::string name() const override { return "fake"; }

  std::vector<std::int64_t> encodeText(const std::string& text, std::int64_t maxLen, bool addBos,
                                       bool addEos) const override {
    return tokenizer_.encode(text, maxLen, addBos, addEos);
  }
  std::string decodeText(const std::vector<std::int64_t>& ids) const override { return tokenizer_.decode(ids); }
  bool knowsAllWords(const std::string& text) const override {
    for (const auto& w : datasets::WordTokenizer::words(text))
      if (tokenizer_.id(w) == datasets::WordTokenizer::kUnk) return false;
    return true;
  }
  std::int64_t maxTextLength() const override { return maxTextLength_; }
  std::vector<std::string> classNames() const override { return classes; }
  std::vector<data::VqaQuestion> vqaQuestions(const std::string& split) const override {
    PL_CHECK(questions.count(split), "FakeTextSource has no questions for '{}'", split);
    return questions.at(split);
  }
  data::CocoCaptions captionReferences(const std::string& split) const override {
    PL_CHECK(captions.count(split), "FakeTextSource has no captions for '{}'", split);
    return captions.at(split);
  }

  /// Token ids of `text` without framing (what a generator returns).
  std::vector<std::int64_t> ids(const std::string& text) const { return tokenizer_.encode(text); }

  std::map<std::string, std::vector<data::VqaQuestion>> questions;
  std::map<std::string, data::CocoCaptions> captions;
  std::vector<std::string> classes;

 private:
  datasets::WordTokenizer tokenizer_;
  std::int64_t maxTextLength_;
  std::map<std::string, std::shared_ptr<const data::Dataset>> splits_;
};

/// A generator answering from a table: row i of a batch gets outputs[k] where k is row i of the batch
/// field `keyField` (e.g. "question_ids", "image_ids"); a key not in the table gets no tokens. Records
/// the calls, every prompt and the last options. No weights, no stacks.
class FakeGenerativeModel : public model::Model, public model::GenerativeHead {
 public:
  FakeGenerativeModel(std::string keyField, std::map<std::int64_t, std::vector<std::int64_t>> outputs)
      : keyField_(std::move(keyField)), outputs_(std::move(outputs)) {}
  void prepare(const model::ModelContext&) override {}
  std::vector<model::StackInfo> stacks() const override { return {}; }
  std::vector<model::LinearRef> linears() override { return {}; }
  torch::nn::Module& module() override { return module_; }
  torch::Tensor loss(const model::Batch&) override { return torch::zeros({}); }
  model::Batch stackInputs(const std::string&, const model::Batch& b) override { return b; }
  model::Batch forwardBlock(const std::string&, int, const model::Batch& s) override { return s; }
  std::string weightsId() const override { return "fake-generator"; }

  std::vector<std::vector<std::int64_t>> generate(const model::Batch& images,
                                                  const std::vector<std::vector<std::int64_t>>& prompts,
                                                  const model::GenerationOptions& options) override {
    ++calls;
    lastOptions = options;
    PL_CHECK(images.has("images"), "FakeGenerativeModel: the batch has no 'images'");
    const auto keys = images.at(keyField_).to(torch::kInt64).contiguous();
    PL_CHECK(static_cast<std::int64_t>(prompts.size()) == keys.size(0), "FakeGenerativeModel: {} prompts for {} images",
             prompts.size(), keys.size(0));
    std::vector<std::vector<std::int64_t>> out;
    for (std::int64_t i = 0; i < keys.size(0); ++i) {
      prompts_.push_back(prompts[static_cast<std::size_t>(i)]);
      const auto it = outputs_.find(keys.data_ptr<std::int64_t>()[i]);
      out.push_back(it == outputs_.end() ? std::vector<std::int64_t>{} : it->second);
    }
    return out;
  }

  /// Every prompt received, in order.
  const std::vector<std::vector<std::int64_t>>& prompts() const { return prompts_; }

  int calls = 0;
  model::GenerationOptions lastOptions;

 private:
  std::string keyField_;
  std::map<std::int64_t, std::vector<std::int64_t>> outputs_;
  std::vector<std::vector<std::int64_t>> prompts_;
  torch::nn::Module module_;
};

/// A perfect generator for end-to-end runs (a test registers it, e.g. as "echo_generator"):
/// prepare() reads the references of scene split `split` from the run's data source (a
/// data::TextSource), then generate() answers each question (batch field "question_ids") with its
/// multiple-choice answer and captions each image (field "image_ids") with its first reference.
class EchoGenerator : public model::Model, public model::GenerativeHead {
 public:
  struct Options {
    std::string split = "test";
    template <class V>
    void visit(V& v) {
      v(split, "split", "scene split whose answers and captions it repeats");
    }
  };
  explicit EchoGenerator(Options options) : options_(std::move(options)) { module_.register_module("fc", fc_); }
  void prepare(const model::ModelContext& ctx) override {
    const auto* text = dynamic_cast<const data::TextSource*>(ctx.data);
    PL_CHECK(text != nullptr, "EchoGenerator needs a data source with text");
    for (const auto& q : text->vqaQuestions(options_.split))
      answers_[q.questionId] = text->encodeText(q.multipleChoiceAnswer);
    for (const auto& c : text->captionReferences(options_.split).annotations)
      captions_.emplace(c.imageId, text->encodeText(c.caption));
  }
  // One unused block linear, so that a run's pruner (pruner=none) finds its targets.
  std::vector<model::StackInfo> stacks() const override { return {{"language", "language", 1}}; }
  std::vector<model::LinearRef> linears() override {
    return {{"language.blocks.0.fc", "language", "language", 0, fc_}};
  }
  torch::nn::Module& module() override { return module_; }
  torch::Tensor loss(const model::Batch&) override { return torch::zeros({}); }
  model::Batch stackInputs(const std::string&, const model::Batch& b) override { return b; }
  model::Batch forwardBlock(const std::string&, int, const model::Batch& s) override { return s; }
  std::string weightsId() const override { return "echo"; }

  std::vector<std::vector<std::int64_t>> generate(const model::Batch& images,
                                                  const std::vector<std::vector<std::int64_t>>& prompts,
                                                  const model::GenerationOptions&) override {
    const bool vqa = images.has("question_ids");
    const auto keys = images.at(vqa ? "question_ids" : "image_ids").to(torch::kInt64).contiguous();
    const auto& table = vqa ? answers_ : captions_;
    std::vector<std::vector<std::int64_t>> out;
    for (std::int64_t i = 0; i < keys.size(0); ++i) out.push_back(table.at(keys.data_ptr<std::int64_t>()[i]));
    return out;
  }

 private:
  Options options_;
  std::map<std::int64_t, std::vector<std::int64_t>> answers_, captions_;
  torch::nn::Module module_;
  model::PrunableLinear fc_{2, 2};
};

}  // namespace prunelab::testing
