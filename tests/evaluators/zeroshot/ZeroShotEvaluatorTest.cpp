#include <gtest/gtest.h>

#include "evaluators/zeroshot/ZeroShotEvaluator.h"
#include "tests/evaluators/retrieval/FakeContrastiveModel.h"
#include "tests/support/Assertions.h"
#include "tests/support/FakeTextModels.h"
#include "tests/support/TinyBlockModel.h"

namespace prunelab::evaluators {
namespace {

std::map<std::string, double> byKey(const std::vector<store::MetricRecord>& records) {
  std::map<std::string, double> out;
  for (const auto& r : records) out[r.key] = r.value;
  return out;
}

TEST(ZeroShotEvaluatorTest, PromptsFillTheClassNameWithItsArticle) {
  const std::vector<std::string> templates = {"a photo of {a}.", "there is one {} in the picture."};
  EXPECT_EQ(ZeroShotEvaluator::prompts(templates, "ankle boot"),
            (std::vector<std::string>{"a photo of an ankle boot.", "there is one ankle boot in the picture."}));
  EXPECT_EQ(ZeroShotEvaluator::prompts(templates, "t-shirt")[0], "a photo of a t-shirt.");
}

// Three classes, two templates each (text ids 10..15 pick rows of the table):
//   class 0: (1,0), (1,0)  -> W0 (1,0)
//   class 1: (0,1), (0,1)  -> W1 (0,1)
//   class 2: (-1,0), (0,-1) -> mean normalised W2 (-.71,-.71): averaging the templates matters
// Images and labels: (1,.1)->0 hit; (.2,1)->1 hit; (1,.5)->1 miss (predicts 0); (-1,-.9)->2 hit;
// (.1,-1)->2 hit (W2 .63 > W0 .10 > W1 -.99). top-1 4/5; per-class recall 1, 1/2, 1 -> 5/6.
TEST(ZeroShotEvaluatorTest, ScoresMatchTheHandComputedOnes) {
  auto table = torch::zeros({16, 2});
  const float rows[6][2] = {{1, 0}, {1, 0}, {0, 1}, {0, 1}, {-1, 0}, {0, -1}};
  for (int k = 0; k < 6; ++k) table[10 + k] = torch::tensor({rows[k][0], rows[k][1]});
  testing::FakeContrastiveModel model(table);
  std::vector<torch::Tensor> prompts;
  for (int c = 0; c < 3; ++c)
    prompts.push_back(torch::tensor({2, 10 + 2 * c, 3, 2, 11 + 2 * c, 3}, torch::kInt64).view({2, 3}));
  testing::FakeSource data;
  data.add("zeroshot", {{"images", torch::tensor({1.f, .1f, .2f, 1.f, 1.f, .5f, -1.f, -.9f, .1f, -1.f}).view({5, 2})},
                        {"labels", torch::tensor({0, 1, 1, 2, 2}, torch::kInt64)}});
  for (std::int64_t batch : {2, 512}) {
    ZeroShotEvaluator::Options o;
    o.batch_size = batch;
    ZeroShotEvaluator eval(o);
    auto m = byKey(eval.score(model, *data.split("zeroshot"), prompts, "zs/fake/zeroshot/"));
    EXPECT_NEAR(m.at("zs/fake/zeroshot/acc1"), 0.8, 1e-12) << "batch " << batch;
    EXPECT_NEAR(m.at("zs/fake/zeroshot/mean_per_class_recall"), 5.0 / 6.0, 1e-12);
    EXPECT_EQ(m.count("zs/fake/zeroshot/acc5"), 0u) << "fewer than 5 classes: no top-5";
    EXPECT_EQ(m.at("zs/fake/zeroshot/count"), 5);
  }
  EXPECT_EQ(model.textCalls, 2 * 3) << "one batched call per class";
}

TEST(ZeroShotEvaluatorTest, NeedsAContrastiveModelAndAVocabulary) {
  testing::FakeSource data;
  data.add("zeroshot", {{"images", torch::ones({1, 2})}, {"labels", torch::zeros({1}, torch::kInt64)}});
  ZeroShotEvaluator eval(ZeroShotEvaluator::Options{});
  testing::TinyBlockModel plain;
  run::EvalContext noHead{plain, data, 0};
  auto message = testing::errorOf([&] { eval.evaluate(noHead); });
  EXPECT_CONTAINS(message, "evaluator 'zeroshot'");
  EXPECT_CONTAINS(message, "TinyBlockModel");
  testing::FakeContrastiveModel clip(torch::zeros({4, 2}));
  run::EvalContext noVocabulary{clip, data, 0};
  EXPECT_CONTAINS(testing::errorOf([&] { eval.evaluate(noVocabulary); }), "dataset=fashion_scenes");
}

TEST(ZeroShotEvaluatorTest, ClassNamesAndTokensComeFromTheTextSource) {
  testing::FakeTextSource data({"a", "photo", "of", "bag", "coat", "picture"}, 6);
  data.classes = {"bag", "coat"};
  data.add("zeroshot", {{"images", torch::tensor({1.f, 0.f, 0.f, 1.f}).view({2, 2})},
                        {"labels", torch::tensor({0, 1}, torch::kInt64)}});
  auto table = torch::zeros({16, 2});
  table[data.ids("bag")[0]] = torch::tensor({1.f, 0.f});
  table[data.ids("coat")[0]] = torch::tensor({0.f, 1.f});
  testing::FakeContrastiveModel clip(table);
  ZeroShotEvaluator::Options o;
  o.templates = {"{} a photo"};  // the class name is the second token, which FakeContrastiveModel reads
  ZeroShotEvaluator eval(o);
  run::EvalContext ctx{clip, data, 0};
  auto m = byKey(eval.evaluate(ctx));
  EXPECT_NEAR(m.at("zs/fake/zeroshot/acc1"), 1.0, 1e-12);
  EXPECT_EQ(clip.textCalls, 2) << "one call per class name of the source";

  o.templates = {"a drawing of {a}"};
  ZeroShotEvaluator unknown(o);
  EXPECT_CONTAINS(testing::errorOf([&] { unknown.evaluate(ctx); }), "'drawing'");
  o.templates = {"a photo of a picture of {a}"};  // 10 tokens with [BOS]/[EOS]; the source's texts hold 6
  ZeroShotEvaluator tooLong(o);
  EXPECT_CONTAINS(testing::errorOf([&] { tooLong.evaluate(ctx); }), "longer than max_text_len (6)");
}

TEST(ZeroShotEvaluatorTest, TemplatesNeedAPlaceholder) {
  ZeroShotEvaluator::Options o;
  o.templates = {"a photo"};
  EXPECT_THROW(o.validate(), Error);
}

}  // namespace
}  // namespace prunelab::evaluators
