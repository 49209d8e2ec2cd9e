// The perplexity evaluator with hand-built LMs and corpora whose answers are computed here
// independently. (It lives beside mini_lm, its one real model, until tests/evaluators/ gets a
// perplexity folder.)
#include <gtest/gtest.h>

#include <cmath>

#include "evaluators/perplexity/PerplexityEvaluator.h"
#include "tests/support/TextSource.h"
#include "tests/support/Assertions.h"
#include "tests/support/TinyBlockModel.h"

namespace prunelab::evaluators {
namespace {

// A language model that gives every next token the same probability 1/V: its perplexity is V.
class FixedLm : public model::Model, public model::LanguageModelHead {
 public:
  FixedLm(std::int64_t vocab, std::int64_t maxLen) : vocab_(vocab), maxLen_(maxLen) {}
  void prepare(const model::ModelContext&) override {}
  std::vector<model::StackInfo> stacks() const override { return {}; }
  std::vector<model::LinearRef> linears() override { return {}; }
  torch::nn::Module& module() override { return module_; }
  torch::Tensor loss(const model::Batch&) override { return torch::zeros({}); }
  model::Batch stackInputs(const std::string&, const model::Batch& b) override { return b; }
  model::Batch forwardBlock(const std::string&, int, const model::Batch& s) override { return s; }
  std::string weightsId() const override { return "fixed"; }
  torch::Tensor nextTokenLogProbs(const torch::Tensor& tokens) override {
    ++calls;
    seenRows += tokens.size(0);
    return torch::full({tokens.size(0), tokens.size(1), vocab_}, -std::log(static_cast<double>(vocab_)));
  }
  std::int64_t vocabSize() const override { return vocab_; }
  std::int64_t maxLength() const override { return maxLen_; }

  int calls = 0;
  std::int64_t seenRows = 0;

 private:
  std::int64_t vocab_, maxLen_;
  torch::nn::Module module_;
};

torch::Tensor rows(std::vector<std::vector<std::int64_t>> r, std::int64_t length) {
  auto t = torch::zeros({static_cast<std::int64_t>(r.size()), length}, torch::kInt64);
  for (std::size_t i = 0; i < r.size(); ++i)
    for (std::size_t j = 0; j < r[i].size(); ++j)
      t[static_cast<std::int64_t>(i)][static_cast<std::int64_t>(j)] = r[i][j];
  return t;
}

std::map<std::string, double> evaluate(PerplexityEvaluator::Options o, model::Model& lm, data::DataSource& data) {
  PerplexityEvaluator evaluator(std::move(o));
  run::EvalContext ctx{lm, data, 0};
  std::map<std::string, double> out;
  for (const auto& m : evaluator.evaluate(ctx)) out[m.key] = m.value;
  return out;
}

TEST(PerplexityEvaluatorTest, UniformModelAndAddOneUnigramOnAHandBuiltCorpus) {
  // lm_train stream: 2 6 3 2 6 6 3 (N = 7): counts 2:2, 3:2, 6:3; V = 8, p(w) = (c+1)/15.
  // lm_test stream: 2 6 3 2 7 3, seq_len 3: chunks [2 6 3] [2 7 3]; predicted 6,3 and 7,3.
  testing::TextSource data(
      {{"lm_train", rows({{2, 6, 3}, {2, 6, 6, 3}}, 5)}, {"lm_test", rows({{2, 6, 3}, {2, 7, 3}}, 6)}});
  FixedLm lm(8, 16);
  PerplexityEvaluator::Options o;
  o.seq_len = 3;
  o.batch_size = 1;
  auto m = evaluate(o, lm, data);
  EXPECT_NEAR(m.at("lm/text/test/ppl"), 8.0, 1e-6) << "a uniform model's perplexity is V";
  const double chunk1 = -(std::log(4.0 / 15) + std::log(3.0 / 15)) / 2;
  const double chunk2 = -(std::log(1.0 / 15) + std::log(3.0 / 15)) / 2;
  EXPECT_NEAR(m.at("lm/text/test/unigram_ppl"), std::exp((chunk1 + chunk2) / 2), 1e-9);
  EXPECT_EQ(m.at("lm/text/test/chunks"), 2.0);
  EXPECT_EQ(m.at("lm/text/test/tokens"), 4.0);
  EXPECT_EQ(lm.calls, 2) << "batch_size 1: one call per chunk";
}

TEST(PerplexityEvaluatorTest, ChunksDefaultToTheModelLengthAndRespectLimitAndBatchSize) {
  // 10 rows of 5 tokens = 50 tokens; the model's length 8 gives 6 chunks (2 tokens dropped).
  std::vector<std::vector<std::int64_t>> r(10, {2, 6, 7, 8, 3});
  testing::TextSource data({{"lm_train", rows(r, 6)}, {"lm_test", rows(r, 6)}});
  FixedLm lm(10, 8);
  PerplexityEvaluator::Options o;
  o.batch_size = 4;
  auto m = evaluate(o, lm, data);
  EXPECT_EQ(m.at("lm/text/test/chunks"), 6.0);
  EXPECT_EQ(lm.calls, 2);
  EXPECT_EQ(lm.seenRows, 6);
  o.limit = 3;
  FixedLm limited(10, 8);
  EXPECT_EQ(evaluate(o, limited, data).at("lm/text/test/chunks"), 3.0);
  o.seq_len = 9;
  EXPECT_CONTAINS(testing::errorOf([&] { evaluate(o, limited, data); }), "exceeds the model's 8 positions");
}

TEST(PerplexityEvaluatorTest, NeedsALanguageModelAndTokensInsideItsVocabulary) {
  testing::TextSource data({{"lm_train", rows({{2, 6, 3}}, 4)}, {"lm_test", rows({{2, 9, 3, 2, 9, 3}}, 6)}});
  testing::TinyBlockModel notAnLm;
  EXPECT_CONTAINS(testing::errorOf([&] { evaluate({}, notAnLm, data); }), "LanguageModelHead");
  FixedLm small(8, 4);
  EXPECT_CONTAINS(testing::errorOf([&] { evaluate({}, small, data); }), "outside the model's vocabulary");
}

}  // namespace
}  // namespace prunelab::evaluators
