#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <sstream>

#include "datasets/fashion_scenes/FashionScenes.h"
#include "evaluators/caption/CaptionEvaluator.h"
#include "evaluators/metrics/CaptionScorer.h"
#include "evaluators/score/ScoreFiles.h"
#include "framework/core/Options.h"
#include "tests/support/Assertions.h"
#include "tests/support/FakeTextModels.h"
#include "tests/support/Fixtures.h"
#include "tests/support/TinyBlockModel.h"

namespace prunelab::evaluators {
namespace {

std::map<std::string, double> byKey(const std::vector<store::MetricRecord>& records) {
  std::map<std::string, double> out;
  for (const auto& r : records) out[r.key] = r.value;
  return out;
}

// Three images with two references each; the generator's caption for each image is given by the test.
struct Fixture {
  testing::FakeTextSource data{{"a", "bag", "at", "the", "top", "left", "one", "item", "picture", "of", "sneaker",
                                "right", "two", "items", "and", "photo", "dress", "coat", "is"}};
  Fixture() {
    data::CocoCaptions coco;
    const std::vector<std::vector<std::string>> refs = {{"A bag at the top left.", "One item: a bag."},
                                                        {"A sneaker at the top right.", "A picture of one sneaker."},
                                                        {"Two items: a dress and a coat.", "A dress and a coat."}};
    for (std::int64_t i = 0; i < 3; ++i) {
      coco.images.push_back({3000000 + i, std::to_string(3000000 + i) + ".png", 56, 56});
      for (std::int64_t k = 0; k < 2; ++k)
        coco.annotations.push_back({(3000000 + i) * 10 + k, 3000000 + i, refs[i][k]});
    }
    data.captions["test"] = coco;
    data.add("test", {{"images", torch::arange(6, torch::kFloat).view({3, 2})},
                      {"image_ids", torch::tensor({3000000, 3000001, 3000002}, torch::kInt64)}});
  }
  testing::FakeGenerativeModel generator(const std::vector<std::string>& captions) const {
    std::map<std::int64_t, std::vector<std::int64_t>> out;
    for (std::size_t i = 0; i < captions.size(); ++i)
      out[3000000 + static_cast<std::int64_t>(i)] = data.ids(captions[i]);
    return testing::FakeGenerativeModel("image_ids", out);
  }
};

TEST(CaptionEvaluatorTest, CaptionsEqualToAReferenceScoreOneAndUnrelatedOnesZero) {
  Fixture f;
  for (std::int64_t batch : {1, 2, 64}) {
    auto model = f.generator({"a bag at the top left", "a picture of one sneaker", "a dress and a coat"});
    CaptionEvaluator::Options o;
    o.batch_size = batch;
    CaptionEvaluator eval(o);
    run::EvalContext ctx{model, f.data, 0};
    auto m = byKey(eval.evaluate(ctx));
    for (int n = 1; n <= 4; ++n) EXPECT_NEAR(m.at("cap/fake/test/Bleu_" + std::to_string(n)), 1.0, 1e-9) << n;
    EXPECT_NEAR(m.at("cap/fake/test/ROUGE_L"), 1.0, 1e-12);
    EXPECT_GT(m.at("cap/fake/test/CIDEr"), 0.0);
    EXPECT_EQ(m.at("cap/fake/test/images"), 3);
    EXPECT_EQ(model.calls, (3 + batch - 1) / batch) << "batch " << batch;
  }
  auto unrelated = f.generator({"photo", "photo", "photo"});
  CaptionEvaluator eval(CaptionEvaluator::Options{});
  run::EvalContext ctx{unrelated, f.data, 0};
  auto m = byKey(eval.evaluate(ctx));
  EXPECT_NEAR(m.at("cap/fake/test/Bleu_1"), 0.0, 1e-9);
  EXPECT_EQ(m.at("cap/fake/test/ROUGE_L"), 0.0);
  EXPECT_EQ(m.at("cap/fake/test/CIDEr"), 0.0);
}

TEST(CaptionEvaluatorTest, InProcessScoresEqualCaptionScorerAndPrunelabScoreOnTheSamePredictions) {
  Fixture f;
  const std::vector<std::string> captions = {"a bag at the left", "one sneaker at the top", "a dress and a coat"};
  auto model = f.generator(captions);
  testing::TempDir dir;
  CaptionEvaluator eval(CaptionEvaluator::Options{});
  run::EvalContext ctx{model, f.data, 0, dir.path()};
  auto m = byKey(eval.evaluate(ctx));

  std::map<std::string, std::string> predictions;
  std::map<std::string, std::vector<std::string>> references;
  for (const auto& c : f.data.captions["test"].annotations) references[std::to_string(c.imageId)].push_back(c.caption);
  for (std::size_t i = 0; i < captions.size(); ++i) predictions[std::to_string(3000000 + i)] = captions[i];
  const auto direct = CaptionScorer().score(predictions, references);
  EXPECT_EQ(m.at("cap/fake/test/Bleu_4"), direct.bleu[3]);
  EXPECT_EQ(m.at("cap/fake/test/CIDEr"), direct.cider);
  EXPECT_EQ(m.at("cap/fake/test/ROUGE_L"), direct.rougeL);

  const auto report =
      scoreCaptionFiles(dir / "caption_predictions.json", dir / "caption_predictions_references.json", "fake", "test");
  EXPECT_TRUE(report.complete);
  for (const char* key : {"cap/fake/test/Bleu_1", "cap/fake/test/Bleu_2", "cap/fake/test/Bleu_3",
                          "cap/fake/test/Bleu_4", "cap/fake/test/CIDEr", "cap/fake/test/ROUGE_L"})
    EXPECT_EQ(report.metric(key), m.at(key)) << key;
}

TEST(CaptionEvaluatorTest, PromptAndOptionsReachTheModel) {
  Fixture f;
  auto model = f.generator({"bag", "sneaker", "dress"});
  CaptionEvaluator eval(CaptionEvaluator::Options{});
  run::EvalContext ctx{model, f.data, 0};
  eval.evaluate(ctx);
  ASSERT_EQ(model.prompts().size(), 3u);
  for (const auto& p : model.prompts()) EXPECT_EQ(p, std::vector<std::int64_t>{2}) << "default prompt: just [BOS]";
  EXPECT_EQ(model.lastOptions.numBeams, 5);
  EXPECT_EQ(model.lastOptions.maxLength, 30);
  EXPECT_EQ(model.lastOptions.minLength, 5);

  CaptionEvaluator::Options o;
  o.prompt = "a photo of";
  CaptionEvaluator prompted(o);
  auto again = f.generator({"bag", "sneaker", "dress"});
  run::EvalContext ctx2{again, f.data, 0};
  prompted.evaluate(ctx2);
  EXPECT_EQ(again.prompts().front(), f.data.encodeText("a photo of", -1, true, false));
  EXPECT_EQ(again.prompts().front().size(), 4u);
}

TEST(CaptionEvaluatorTest, ALimitScoresTheFirstImagesAndNamesTheSubset) {
  Fixture f;
  auto model = f.generator({"a bag at the top left", "a picture of one sneaker", "photo"});
  CaptionEvaluator::Options o;
  o.limit = 2;
  CaptionEvaluator eval(o);
  run::EvalContext ctx{model, f.data, 0};
  auto m = byKey(eval.evaluate(ctx));
  EXPECT_EQ(m.at("cap/fake/test[:2]/images"), 2);
  EXPECT_NEAR(m.at("cap/fake/test[:2]/Bleu_4"), 1.0, 1e-9) << "the third (wrong) caption is not scored";
  EXPECT_EQ(m.count("cap/fake/test/Bleu_4"), 0u);
}

TEST(CaptionEvaluatorTest, ErrorsComeBeforeAnyGeneration) {
  Fixture f;
  testing::TinyBlockModel plain;
  CaptionEvaluator eval(CaptionEvaluator::Options{});
  run::EvalContext noHead{plain, f.data, 0};
  auto message = testing::errorOf([&] { eval.evaluate(noHead); });
  EXPECT_CONTAINS(message, "evaluator 'caption'");
  EXPECT_CONTAINS(message, "GenerativeHead");

  auto model = f.generator({});
  testing::TextSource wordless({{"test", torch::zeros({1, 4}, torch::kInt64)}});
  run::EvalContext noText{model, wordless, 0};
  EXPECT_CONTAINS(testing::errorOf([&] { eval.evaluate(noText); }), "dataset=fashion_scenes");

  CaptionEvaluator::Options o;
  o.prompt = "an image of";
  CaptionEvaluator unknown(o);
  run::EvalContext ctx{model, f.data, 0};
  message = testing::errorOf([&] { unknown.evaluate(ctx); });
  EXPECT_CONTAINS(message, "'an'");
  EXPECT_CONTAINS(message, "eval.*.prompt");
  EXPECT_EQ(model.calls, 0);
}

TEST(CaptionEvaluatorTest, OptionsAreValidatedAndTheConfigFileHoldsTheDefaults) {
  CaptionEvaluator::Options o;
  o.prompt = "a photo of {}";
  EXPECT_THROW(o.validate(), Error);
  o = {};
  o.min_len = 31;
  EXPECT_THROW(o.validate(), Error);
  const auto node = YAML::LoadFile((testing::repoConfigDir() / "eval" / "caption.yaml").string());
  EXPECT_EQ(YAML::Dump(dumpOptions(parseOptions<CaptionEvaluator::Options>(node["caption"], "eval.caption"))),
            YAML::Dump(dumpOptions(CaptionEvaluator::Options{})));
}

class CaptionOnFashionScenesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::haveFashionMnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
  static datasets::FashionScenes::Options tiny(std::int64_t grid) {
    datasets::FashionScenes::Options o;
    o.grid = grid;
    o.num_train = 4;
    o.num_val = 2;
    o.num_test = 200;
    o.calib_size = 2;
    o.zeroshot_size = 4;
    return o;
  }
};

// min_len is the fewest generated tokens; a default above the shortest reference would forbid the
// model from ever writing that caption. Mostly empty grids (p_empty 0.9) reach the shortest
// templates: "A picture of one bag." and "A bag at the center." (5 words).
TEST_F(CaptionOnFashionScenesTest, DefaultLengthsPermitEveryCaptionTemplate) {
  const CaptionEvaluator::Options defaults;
  std::size_t shortest = 1000, longest = 0;
  for (std::int64_t grid : {2, 3})
    for (double pEmpty : {0.25, 0.9}) {
      auto o = tiny(grid);
      o.p_empty = pEmpty;
      datasets::FashionScenes scenes(o);
      scenes.prepare();
      for (const auto& c : scenes.captionReferences("test").annotations) {
        const auto n = scenes.encodeText(c.caption).size();
        shortest = std::min(shortest, n);
        longest = std::max(longest, n);
      }
    }
  EXPECT_EQ(shortest, 5u);
  EXPECT_LE(defaults.min_len, static_cast<std::int64_t>(shortest));
  EXPECT_GE(defaults.max_len, static_cast<std::int64_t>(longest)) << "longest caption: " << longest << " words";
}

TEST_F(CaptionOnFashionScenesTest, ReferencesFollowTheSplitsImageIds) {
  datasets::FashionScenes scenes(tiny(2));
  scenes.prepare();
  std::map<std::int64_t, std::vector<std::int64_t>> firstReference;
  for (const auto& c : scenes.captionReferences("test").annotations)
    if (!firstReference.count(c.imageId)) firstReference[c.imageId] = scenes.encodeText(c.caption);
  testing::FakeGenerativeModel model("image_ids", firstReference);
  CaptionEvaluator::Options o;
  o.limit = 20;
  CaptionEvaluator eval(o);
  run::EvalContext ctx{model, scenes, 0};
  auto m = byKey(eval.evaluate(ctx));
  EXPECT_NEAR(m.at("cap/fashion_scenes/test[:20]/Bleu_4"), 1.0, 1e-9);
  EXPECT_NEAR(m.at("cap/fashion_scenes/test[:20]/ROUGE_L"), 1.0, 1e-12);
  EXPECT_EQ(m.at("cap/fashion_scenes/test[:20]/images"), 20);
}

}  // namespace
}  // namespace prunelab::evaluators
