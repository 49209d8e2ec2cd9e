#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "datasets/fashion_scenes/FashionScenes.h"
#include "evaluators/score/ScoreFiles.h"
#include "evaluators/vqa/VqaEvaluator.h"
#include "framework/core/Options.h"
#include "tests/evaluators/retrieval/FakeContrastiveModel.h"
#include "tests/support/Assertions.h"
#include "tests/support/FakeTextModels.h"
#include "tests/support/Fixtures.h"
#include "tests/support/RunFixture.h"
#include "tests/support/TinyBlockModel.h"

namespace prunelab::evaluators {
namespace {

std::map<std::string, double> byKey(const std::vector<store::MetricRecord>& records) {
  std::map<std::string, double> out;
  for (const auto& r : records) out[r.key] = r.value;
  return out;
}

data::VqaQuestion question(std::int64_t id, const std::string& text, const std::string& answerType,
                           const std::string& questionType, std::vector<std::string> answers) {
  data::VqaQuestion q;
  q.questionId = id;
  q.imageId = id / 100;
  q.question = text;
  q.answerType = answerType;
  q.questionType = questionType;
  q.multipleChoiceAnswer = answers.front();
  q.answers = std::move(answers);
  return q;
}

std::vector<std::string> repeat(const std::string& a, int n, const std::string& b = "", int m = 0) {
  std::vector<std::string> out(static_cast<std::size_t>(n), a);
  out.insert(out.end(), static_cast<std::size_t>(m), b);
  return out;
}

// Four questions on two images, answered by a table (by hand, vqaEval.py's rules):
//   101 "is there a bag?"          GT 10x yes             answer "yes"   -> 1   (raw equality)
//   102 "how many bags are there?" GT 7x 2, 3x two        answer "two"   -> 1   (GTs differ: "two" -> "2", 10 matches)
//   201 "what is at the top left?" GT 8x sneaker, 2x shoe answer "shoe"  -> 0.6 (2 x 1/3 + 8 x 2/3) / 10
//   202 "is there a shoe?"         GT 10x no              answer "yes"   -> 0
// overall 65; yes/no 50, number 100, other 60; exists 50, count 100, what_at_position 60;
// exact match (normalised answer == normalised multiple-choice answer) 2 of 4 = 50.
struct Fixture {
  testing::FakeTextSource data{{"question", "answer", "is",      "there", "a",  "bag", "how",
                                "many",     "bags",   "are",     "what",  "at", "the", "top",
                                "left",     "shoe",   "sneaker", "yes",   "no", "2",   "two"}};
  std::unique_ptr<testing::FakeGenerativeModel> model;
  Fixture() {
    data.questions["test"] = {
        question(101, "is there a bag?", "yes/no", "exists", repeat("yes", 10)),
        question(102, "how many bags are there?", "number", "count", repeat("2", 7, "two", 3)),
        question(201, "what is at the top left?", "other", "what_at_position", repeat("sneaker", 8, "shoe", 2)),
        question(202, "is there a shoe?", "yes/no", "exists", repeat("no", 10))};
    // The question-only prior's fit: 101 -> "no" (2 of 3), 102 -> "2" (tied with "3", alphabetically
    // first), 201 unseen -> its type's "sneaker", 202 unseen -> its type's "no". Prior accuracies by
    // the same rules: 0, 1, 1 (8 sneakers), 1 -> 75; exists 50, count 100, what_at_position 100.
    data.questions["train"] = {
        question(1, "is there a bag?", "yes/no", "exists", repeat("no", 10)),
        question(2, "is there a bag?", "yes/no", "exists", repeat("no", 10)),
        question(3, "is there a bag?", "yes/no", "exists", repeat("yes", 10)),
        question(4, "how many bags are there?", "number", "count", repeat("3", 10)),
        question(5, "how many bags are there?", "number", "count", repeat("2", 10)),
        question(6, "what is at the bottom right?", "other", "what_at_position", repeat("sneaker", 10))};
    data.add("vqa_test", {{"images", torch::arange(8, torch::kFloat).view({4, 2})},
                          {"question_ids", torch::tensor({101, 102, 201, 202}, torch::kInt64)},
                          {"image_ids", torch::tensor({1, 1, 2, 2}, torch::kInt64)}});
    model = std::make_unique<testing::FakeGenerativeModel>(
        "question_ids",
        std::map<std::int64_t, std::vector<std::int64_t>>{
            {101, data.ids("yes")}, {102, data.ids("two")}, {201, data.ids("shoe")}, {202, data.ids("yes")}});
  }
};

TEST(VqaEvaluatorTest, AccuraciesMatchTheHandComputedOnes) {
  for (std::int64_t batch : {1, 3, 64}) {
    Fixture f;
    VqaEvaluator::Options o;
    o.batch_size = batch;
    VqaEvaluator eval(o);
    run::EvalContext ctx{*f.model, f.data, 0};
    auto m = byKey(eval.evaluate(ctx));
    EXPECT_DOUBLE_EQ(m.at("vqa/fake/test/acc"), 65.0) << "batch " << batch;
    EXPECT_DOUBLE_EQ(m.at("vqa/fake/test/acc_yes_no"), 50.0);
    EXPECT_DOUBLE_EQ(m.at("vqa/fake/test/acc_number"), 100.0);
    EXPECT_DOUBLE_EQ(m.at("vqa/fake/test/acc_other"), 60.0);
    EXPECT_DOUBLE_EQ(m.at("vqa/fake/test/acc_qtype_exists"), 50.0);
    EXPECT_DOUBLE_EQ(m.at("vqa/fake/test/acc_qtype_count"), 100.0);
    EXPECT_DOUBLE_EQ(m.at("vqa/fake/test/acc_qtype_what_at_position"), 60.0);
    EXPECT_DOUBLE_EQ(m.at("vqa/fake/test/exact_match"), 50.0);
    EXPECT_EQ(m.at("vqa/fake/test/questions"), 4);
    EXPECT_EQ(f.model->calls, (4 + batch - 1) / batch) << "one generate call per batch";
    EXPECT_DOUBLE_EQ(m.at("vqa/fake/test/prior_acc"), 75.0);
    EXPECT_DOUBLE_EQ(m.at("vqa/fake/test/prior_acc_qtype_exists"), 50.0);
    EXPECT_DOUBLE_EQ(m.at("vqa/fake/test/prior_acc_qtype_count"), 100.0);
    EXPECT_DOUBLE_EQ(m.at("vqa/fake/test/prior_acc_qtype_what_at_position"), 100.0);
    EXPECT_FALSE(m.count("vqa/fake/test/prior_exact_match")) << "accuracies only";
  }
}

TEST(VqaEvaluatorTest, ThePriorAnswersByQuestionThenTypeThenOverall) {
  const std::vector<data::VqaQuestion> fit = {question(1, "is there a bag?", "yes/no", "exists", repeat("no", 10)),
                                              question(2, "is there a cat?", "yes/no", "exists", repeat("yes", 10)),
                                              question(3, "is there a cat?", "yes/no", "exists", repeat("yes", 10)),
                                              question(4, "how many?", "number", "count", repeat("2", 10))};
  const auto answers = VqaEvaluator::priorAnswers(
      fit, {question(10, "is there a bag?", "yes/no", "exists", repeat("yes", 10)),
            question(11, "is there a dog?", "yes/no", "exists", repeat("no", 10)),
            question(12, "what colour?", "other", "colour", repeat("red", 10))});
  EXPECT_EQ(answers, (std::vector<std::string>{"no", "yes", "yes"}))
      << "its own text's answer, then its type's, then the most frequent of all";
}

TEST(VqaEvaluatorTest, APriorSplitTheDataLacksFailsBeforeGenerationAndEmptyTurnsThePriorOff) {
  Fixture f;
  VqaEvaluator::Options o;
  o.prior_split = "val";
  run::EvalContext ctx{*f.model, f.data, 0};
  EXPECT_CONTAINS(testing::errorOf([&] { VqaEvaluator(o).evaluate(ctx); }), "prior_split");
  EXPECT_EQ(f.model->calls, 0) << "nothing generated first";
  o.prior_split = "";
  const auto m = byKey(VqaEvaluator(o).evaluate(ctx));
  EXPECT_TRUE(m.count("vqa/fake/test/acc"));
  EXPECT_FALSE(m.count("vqa/fake/test/prior_acc"));
}

TEST(VqaEvaluatorTest, PromptIsBosAndWordsWithTheQuestionInsideAndOptionsReachTheModel) {
  Fixture f;
  VqaEvaluator eval(VqaEvaluator::Options{});
  run::EvalContext ctx{*f.model, f.data, 0};
  eval.evaluate(ctx);
  ASSERT_EQ(f.model->prompts().size(), 4u);
  EXPECT_EQ(f.model->prompts()[0], f.data.encodeText("question: is there a bag? answer:", -1, true, false));
  EXPECT_EQ(f.model->prompts()[0].front(), 2) << "[BOS]";
  EXPECT_NE(f.model->prompts()[0].back(), 3) << "no [EOS]";
  EXPECT_EQ(f.model->prompts()[0].size(), 1u + 6u) << "[BOS] question is there a bag answer";
  EXPECT_EQ(f.model->lastOptions.numBeams, 5);
  EXPECT_EQ(f.model->lastOptions.maxLength, 10);
  EXPECT_EQ(f.model->lastOptions.minLength, 1);
  EXPECT_EQ(f.model->lastOptions.lengthPenalty, -1.0);
}

TEST(VqaEvaluatorTest, ALimitNamesTheSubsetInTheKeys) {
  Fixture f;
  VqaEvaluator::Options o;
  o.limit = 2;
  VqaEvaluator eval(o);
  run::EvalContext ctx{*f.model, f.data, 0};
  auto m = byKey(eval.evaluate(ctx));
  EXPECT_DOUBLE_EQ(m.at("vqa/fake/test[:2]/acc"), 100.0) << "questions 101 and 102 only";
  EXPECT_EQ(m.at("vqa/fake/test[:2]/questions"), 2);
  EXPECT_EQ(m.count("vqa/fake/test/acc"), 0u) << "a subset must not pass for the full split";
  o.limit = 4;
  VqaEvaluator whole(o);
  EXPECT_EQ(byKey(whole.evaluate(ctx)).count("vqa/fake/test/acc"), 1u) << "a limit covering the split is the split";
}

TEST(VqaEvaluatorTest, WrittenPredictionsRescoreToTheSameAccuracies) {
  Fixture f;
  testing::TempDir dir;
  VqaEvaluator eval(VqaEvaluator::Options{});
  run::EvalContext ctx{*f.model, f.data, 0, dir.path()};
  auto m = byKey(eval.evaluate(ctx));
  ASSERT_TRUE(std::filesystem::exists(dir / "vqa_predictions.json"));
  const auto report = scoreVqaFiles(dir / "vqa_predictions.json", dir / "vqa_predictions_questions.json",
                                    dir / "vqa_predictions_annotations.json", "fake", "test");
  EXPECT_TRUE(report.complete);
  for (const char* key :
       {"vqa/fake/test/acc", "vqa/fake/test/acc_yes_no", "vqa/fake/test/acc_number", "vqa/fake/test/acc_other"})
    EXPECT_EQ(report.metric(key), m.at(key)) << key;
}

TEST(VqaEvaluatorTest, NeedsAGeneratorAndATextSourceBeforeAnyWork) {
  Fixture f;
  VqaEvaluator eval(VqaEvaluator::Options{});
  testing::TinyBlockModel plain;
  run::EvalContext noHead{plain, f.data, 0};
  auto message = testing::errorOf([&] { eval.evaluate(noHead); });
  EXPECT_CONTAINS(message, "evaluator 'vqa'");
  EXPECT_CONTAINS(message, "GenerativeHead");
  EXPECT_CONTAINS(message, "TinyBlockModel");

  testing::FakeSource noText;
  noText.add("vqa_test", {{"images", torch::ones({1, 2})}});
  run::EvalContext noTextSource{*f.model, noText, 0};
  message = testing::errorOf([&] { eval.evaluate(noTextSource); });
  EXPECT_CONTAINS(message, "data::TextSource");
  EXPECT_CONTAINS(message, "dataset=fashion_scenes");
  EXPECT_EQ(f.model->calls, 0);
}

TEST(VqaEvaluatorTest, AnUnknownPromptWordIsAnErrorNamingIt) {
  Fixture f;
  VqaEvaluator::Options o;
  o.prompt = "query: {} answer:";
  VqaEvaluator eval(o);
  run::EvalContext ctx{*f.model, f.data, 0};
  auto message = testing::errorOf([&] { eval.evaluate(ctx); });
  EXPECT_CONTAINS(message, "'query'");
  EXPECT_CONTAINS(message, "eval.*.prompt");
  EXPECT_EQ(f.model->calls, 0) << "checked before generating";
}

TEST(VqaEvaluatorTest, OptionsAreValidatedAndTheConfigFileHoldsTheDefaults) {
  VqaEvaluator::Options o;
  o.prompt = "question answer";
  EXPECT_THROW(o.validate(), Error) << "no {} for the question";
  o = {};
  o.min_len = 11;
  EXPECT_THROW(o.validate(), Error) << "min_len above max_len";
  o = {};
  o.num_beams = 0;
  EXPECT_THROW(o.validate(), Error);
  const auto node = YAML::LoadFile((testing::repoConfigDir() / "eval" / "vqa.yaml").string());
  EXPECT_EQ(YAML::Dump(dumpOptions(parseOptions<VqaEvaluator::Options>(node["vqa"], "eval.vqa"))),
            YAML::Dump(dumpOptions(VqaEvaluator::Options{})));
}

class VqaOnFashionScenesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::haveFashionMnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
};

TEST_F(VqaOnFashionScenesTest, AnsweringTheCanonicalAnswerScoresFullMarks) {
  datasets::FashionScenes::Options o;
  o.num_train = 4;
  o.num_val = 2;
  o.num_test = 12;
  o.calib_size = 2;
  o.zeroshot_size = 4;
  datasets::FashionScenes scenes(o);
  scenes.prepare();
  std::map<std::int64_t, std::vector<std::int64_t>> answers;
  for (const auto& q : scenes.vqaQuestions("test")) answers[q.questionId] = scenes.encodeText(q.multipleChoiceAnswer);
  testing::FakeGenerativeModel model("question_ids", answers);
  VqaEvaluator::Options eo;
  eo.batch_size = 16;
  VqaEvaluator eval(eo);
  run::EvalContext ctx{model, scenes, 0};
  auto m = byKey(eval.evaluate(ctx));
  EXPECT_DOUBLE_EQ(m.at("vqa/fashion_scenes/test/acc"), 100.0);
  EXPECT_DOUBLE_EQ(m.at("vqa/fashion_scenes/test/exact_match"), 100.0);
  EXPECT_EQ(m.at("vqa/fashion_scenes/test/questions"), 12 * 5);
  for (const char* type : {"what_at_position", "count", "exists", "attribute", "relation"})
    EXPECT_TRUE(m.count(std::string("vqa/fashion_scenes/test/acc_qtype_") + type)) << type;
}

class GenerationRunTest : public testing::TinyRunTest {
 protected:
  void SetUp() override {
    TinyRunTest::SetUp();
    if (!IsSkipped()) registries_.models.add<testing::EchoGenerator>("echo_generator", "test: repeats the references");
  }
};

TEST_F(GenerationRunTest, VqaAndCaptionRunEndToEndAndTheirFilesRescoreToTheStoredMetrics) {
  auto r = run({"~model", "+model.type=echo_generator", "dataset=fashion_scenes_tiny", "eval=vqa",
                "+eval.caption.type=caption", "pruner=none"});
  ASSERT_EQ(r.status, store::RunStatus::Finished) << r.error;
  auto m = store_.metrics(r.runId);
  EXPECT_DOUBLE_EQ(m.at("vqa/fashion_scenes/test/acc"), 100.0);
  EXPECT_EQ(m.at("vqa/fashion_scenes/test/questions"), 50 * 5);
  EXPECT_NEAR(m.at("cap/fashion_scenes/test/Bleu_4"), 1.0, 1e-9);
  EXPECT_EQ(m.at("cap/fashion_scenes/test/images"), 50);
  const auto vqa = scoreVqaFiles(r.outputDir / "vqa_predictions.json", r.outputDir / "vqa_predictions_questions.json",
                                 r.outputDir / "vqa_predictions_annotations.json", "fashion_scenes", "test");
  EXPECT_EQ(vqa.metric("vqa/fashion_scenes/test/acc"), m.at("vqa/fashion_scenes/test/acc"));
  const auto cap = scoreCaptionFiles(r.outputDir / "caption_predictions.json",
                                     r.outputDir / "caption_predictions_references.json", "fashion_scenes", "test");
  EXPECT_EQ(cap.metric("cap/fashion_scenes/test/CIDEr"), m.at("cap/fashion_scenes/test/CIDEr"));
}

TEST_F(GenerationRunTest, AModelWithoutGenerationFailsTheRunWithTheFix) {
  auto r = run({"model=mini_clip_tiny", "dataset=fashion_scenes_tiny", "eval=vqa", "pruner=none"});
  EXPECT_EQ(r.status, store::RunStatus::Failed);
  EXPECT_CONTAINS(r.error, "GenerativeHead");
  r = run({"model=mini_clip_tiny", "dataset=fashion_scenes_tiny", "eval=retrieval", "eval.retrieval.itm_k=128",
           "pruner=none"});
  EXPECT_EQ(r.status, store::RunStatus::Failed);
  EXPECT_CONTAINS(r.error, "MatchingHead");
}

}  // namespace
}  // namespace prunelab::evaluators
