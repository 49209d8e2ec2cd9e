#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "evaluators/metrics/CaptionScorer.h"
#include "evaluators/metrics/EvaluatorVersions.h"
#include "evaluators/metrics/VqaEval.h"
#include "evaluators/score/ScoreFiles.h"
#include "framework/core/Error.h"
#include "framework/data/StandardFormats.h"
#include "tests/support/Assertions.h"
#include "tests/support/Fixtures.h"

namespace prunelab::evaluators {
namespace {

namespace fs = std::filesystem;
using prunelab::testing::errorOf;
using Keys = std::vector<std::string>;

std::vector<std::string> times(int n, const std::string& answer) { return std::vector<std::string>(n, answer); }

// Four VQAv2-style questions: all three answer types, normalisation needed for q2 and q4.
std::vector<data::VqaQuestion> vqaQuestions() {
  std::vector<data::VqaQuestion> q(4);
  q[0] = {101, 1, "Is the man surfing?", "is the", "yes/no", "yes", times(10, "yes")};
  q[1] = {102, 1, "How many dogs?", "how many", "number", "2", {"2", "2", "two", "2", "3", "2", "2", "2", "2", "2"}};
  q[2] = {103,
          2,
          "What color is the bus?",
          "what color is the",
          "other",
          "red",
          {"red", "red", "maroon", "red", "dark red", "red", "red", "red", "red", "red"}};
  q[3] = {104,
          2,
          "What is he holding?",
          "what is he",
          "other",
          "umbrella",
          {"umbrella", "an umbrella", "umbrella", "parasol", "umbrella", "umbrella", "umbrella", "black umbrella",
           "umbrella", "umbrella"}};
  return q;
}

// The metric library applied directly, predictions in the given order.
VqaAccuracy vqaDirect(const std::vector<std::pair<std::int64_t, std::string>>& predictions) {
  std::map<std::int64_t, data::VqaQuestion> byId;
  for (const auto& q : vqaQuestions()) byId[q.questionId] = q;
  VqaAccuracyAggregator aggregator;
  for (const auto& [id, answer] : predictions) {
    const auto& q = byId.at(id);
    aggregator.add({id, answer, q.answers, q.answerType, q.questionType});
  }
  return aggregator.result();
}

const std::map<std::string, std::vector<std::string>> kRefs = {
    {"1", {"A man riding a wave on a surfboard.", "A surfer rides a large wave."}},
    {"2", {"Two dogs play with a frisbee.", "Dogs playing in the park."}},
    {"3", {"A plate of food with broccoli.", "Broccoli and rice on a plate."}},
};

class ScoreFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data::writeVqa(questions_, annotations_, vqaQuestions());
    data::CocoCaptions captions;
    std::int64_t annotationId = 1;
    for (const auto& [id, refs] : kRefs) {
      captions.images.push_back({std::stoll(id), "COCO_" + id + ".jpg", 480, 640});
      for (const auto& ref : refs) captions.annotations.push_back({annotationId++, std::stoll(id), ref});
    }
    captions.images.push_back({4, "no_captions.jpg", 1, 1});  // listed, never captioned
    data::writeCocoCaptions(captionsFile_, captions);
  }

  fs::path write(const std::string& name, const std::string& text) {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  prunelab::testing::TempDir dir_;
  fs::path questions_ = dir_ / "questions.json";
  fs::path annotations_ = dir_ / "annotations.json";
  fs::path captionsFile_ = dir_ / "captions.json";
};

Keys keysOf(const ScoreReport& report) {
  Keys keys;
  for (const auto& [key, value] : report.metrics) keys.push_back(key);
  return keys;
}

TEST_F(ScoreFilesTest, VqaMatchesTheMetricLibraryInProcess) {
  // Hand-written results file in the official format, in an order unlike the questions file.
  const fs::path pred = write("vqa_result.json", R"([{"question_id": 103, "answer": "Red"},
      {"question_id": 101, "answer": "yes"}, {"question_id": 104, "answer": "an umbrella"},
      {"question_id": 102, "answer": "two"}])");
  const ScoreReport report = scoreVqaFiles(pred, questions_, annotations_);
  const VqaAccuracy direct = vqaDirect({{103, "Red"}, {101, "yes"}, {104, "an umbrella"}, {102, "two"}});
  EXPECT_EQ(keysOf(report), (Keys{"vqa/vqav2/val/acc", "vqa/vqav2/val/acc_number", "vqa/vqav2/val/acc_other",
                                  "vqa/vqav2/val/acc_yes_no"}));
  EXPECT_EQ(report.metric("vqa/vqav2/val/acc"), direct.overall);
  EXPECT_EQ(report.metric("vqa/vqav2/val/acc_yes_no"), direct.perAnswerType.at("yes/no"));
  EXPECT_EQ(report.metric("vqa/vqav2/val/acc_number"), direct.perAnswerType.at("number"));
  EXPECT_EQ(report.metric("vqa/vqav2/val/acc_other"), direct.perAnswerType.at("other"));
  EXPECT_EQ(report.metric("vqa/vqav2/val/acc_yes_no"), 100.0);  // 10 of 10 humans said "yes"
  EXPECT_EQ(report.version, kVqaEvaluatorVersion);
  EXPECT_EQ(report.version, "vqa-2");
  EXPECT_EQ(report.numScored, 4u);
  EXPECT_TRUE(report.complete);
  EXPECT_TRUE(report.missingIds.empty());
  EXPECT_TRUE(report.unknownIds.empty());
  EXPECT_CONTAINS(report.summary(), "complete");
  EXPECT_CONTAINS(report.summary(), "vqa/vqav2/val/acc = ");
}

TEST_F(ScoreFilesTest, VqaWithMissingPredictionsScoresThePredictedQuestionsAndIsPartial) {
  const fs::path pred = dir_ / "partial.json";
  data::writeVqaPredictions(pred, {{104, "umbrella"}, {102, "3"}});
  const ScoreReport report = scoreVqaFiles(pred, questions_, annotations_, "okvqa", "test");
  EXPECT_FALSE(report.complete);
  EXPECT_EQ(report.missingIds, (std::vector<std::int64_t>{101, 103}));
  EXPECT_EQ(report.numScored, 2u);
  EXPECT_EQ(report.metric("vqa/okvqa/test/acc"), vqaDirect({{104, "umbrella"}, {102, "3"}}).overall);
  EXPECT_EQ(keysOf(report), (Keys{"vqa/okvqa/test/acc", "vqa/okvqa/test/acc_number", "vqa/okvqa/test/acc_other"}));
  EXPECT_CONTAINS(report.summary(), "PARTIAL; 2 annotated id(s) without a prediction: 101, 103");
}

TEST_F(ScoreFilesTest, VqaPredictionsForUnknownQuestionsAreReportedNeverDropped) {
  const fs::path pred = dir_ / "unknown.json";
  data::writeVqaPredictions(pred, {{101, "yes"}, {999, "no"}, {102, "2"}, {103, "red"}, {104, "umbrella"}, {7, "x"}});
  const std::string message = errorOf([&] { scoreVqaFiles(pred, questions_, annotations_); });
  EXPECT_CONTAINS(message, "2 prediction(s) in '" + pred.string() + "'");
  EXPECT_CONTAINS(message, "question ids not in '" + annotations_.string() + "': 7, 999");

  const ScoreReport report = scoreVqaFiles(pred, questions_, annotations_, "vqav2", "val", /*allowUnknown=*/true);
  EXPECT_EQ(report.unknownIds, (std::vector<std::int64_t>{7, 999}));
  EXPECT_TRUE(report.missingIds.empty());
  EXPECT_FALSE(report.complete);
  EXPECT_EQ(report.numScored, 4u);
  EXPECT_EQ(report.metric("vqa/vqav2/val/acc"),
            vqaDirect({{101, "yes"}, {102, "2"}, {103, "red"}, {104, "umbrella"}}).overall);
  EXPECT_CONTAINS(report.summary(), "2 prediction(s) for unknown ids, not scored: 7, 999");

  data::writeVqaPredictions(pred, {{5, "x"}});
  EXPECT_CONTAINS(errorOf([&] { scoreVqaFiles(pred, questions_, annotations_, "vqav2", "val", true); }),
                  "nothing to score");
}

TEST_F(ScoreFilesTest, CaptionsMatchTheMetricLibraryInProcess) {
  const std::map<std::string, std::string> predictions = {
      {"1", "A man riding a wave on a surfboard!"}, {"2", "two dogs with a frisbee"}, {"3", "a plate of food"}};
  const fs::path pred = write("cap_result.json", R"([{"image_id": 2, "caption": "two dogs with a frisbee"},
      {"image_id": 1, "caption": "A man riding a wave on a surfboard!"}, {"image_id": 3, "caption": "a plate of food"}])");
  const ScoreReport report = scoreCaptionFiles(pred, captionsFile_);
  const CaptionScores direct = CaptionScorer().score(predictions, kRefs);
  EXPECT_EQ(keysOf(report), (Keys{"cap/coco/test/Bleu_1", "cap/coco/test/Bleu_2", "cap/coco/test/Bleu_3",
                                  "cap/coco/test/Bleu_4", "cap/coco/test/CIDEr", "cap/coco/test/ROUGE_L"}));
  for (int n = 0; n < 4; ++n) {
    EXPECT_EQ(report.metric("cap/coco/test/Bleu_" + std::to_string(n + 1)), direct.bleu[n]);
  }
  EXPECT_EQ(report.metric("cap/coco/test/CIDEr"), direct.cider);
  EXPECT_EQ(report.metric("cap/coco/test/ROUGE_L"), direct.rougeL);
  EXPECT_GT(direct.cider, 0.0);
  EXPECT_EQ(report.version, kCaptionEvaluatorVersion);
  EXPECT_EQ(report.version, "caption-1");
  EXPECT_EQ(report.numScored, 3u);
  EXPECT_TRUE(report.complete);  // image 4 has no captions, so it is not expected
}

TEST_F(ScoreFilesTest, CaptionSubsetsAreRefusedUnlessAllowedAndThenMarkedPartial) {
  const fs::path pred = dir_ / "subset.json";
  data::writeCaptionPredictions(pred, {{3, "broccoli on a plate"}, {1, "a surfer on a wave"}});
  const std::string message = errorOf([&] { scoreCaptionFiles(pred, captionsFile_); });
  EXPECT_CONTAINS(message, "'" + pred.string() + "' has captions for 2 of the 3 images with references in '" +
                               captionsFile_.string() + "' (missing: 2)");
  EXPECT_CONTAINS(message, "allow a subset");

  const ScoreReport report = scoreCaptionFiles(pred, captionsFile_, "flickr30k", "test", /*allowSubset=*/true);
  EXPECT_FALSE(report.complete);
  EXPECT_EQ(report.missingIds, (std::vector<std::int64_t>{2}));
  EXPECT_EQ(report.numScored, 2u);
  const CaptionScores direct = CaptionScorer(CaptionScorerOptions().allowSubset(true))
                                   .score({{"1", "a surfer on a wave"}, {"3", "broccoli on a plate"}}, kRefs);
  EXPECT_EQ(report.metric("cap/flickr30k/test/CIDEr"), direct.cider);
  EXPECT_EQ(report.metric("cap/flickr30k/test/Bleu_4"), direct.bleu[3]);
  EXPECT_EQ(report.metric("cap/flickr30k/test/ROUGE_L"), direct.rougeL);
  EXPECT_CONTAINS(report.summary(), "PARTIAL");
}

TEST_F(ScoreFilesTest, CaptionPredictionsForUnknownImagesAreReportedNeverDropped) {
  const fs::path pred = dir_ / "unknown.json";
  data::writeCaptionPredictions(pred, {{1, "a man surfing"}, {2, "dogs"}, {3, "food"}, {77, "a cat"}});
  EXPECT_CONTAINS(
      errorOf([&] { scoreCaptionFiles(pred, captionsFile_); }),
      "1 prediction(s) in '" + pred.string() + "' are for image ids not in '" + captionsFile_.string() + "': 77");
  const ScoreReport report = scoreCaptionFiles(pred, captionsFile_, "coco", "test", false, /*allowUnknown=*/true);
  EXPECT_EQ(report.unknownIds, (std::vector<std::int64_t>{77}));
  EXPECT_FALSE(report.complete);
  EXPECT_EQ(report.numScored, 3u);
  EXPECT_EQ(report.metric("cap/coco/test/CIDEr"),
            CaptionScorer().score({{"1", "a man surfing"}, {"2", "dogs"}, {"3", "food"}}, kRefs).cider);
}

TEST_F(ScoreFilesTest, PredictingAnImageWithoutReferencesNamesItAndTheFiles) {
  const fs::path pred = dir_ / "p.json";
  data::writeCaptionPredictions(pred, {{1, "a"}, {2, "b"}, {3, "c"}, {4, "d"}});
  const std::string message = errorOf([&] { scoreCaptionFiles(pred, captionsFile_); });
  EXPECT_CONTAINS(message, "scoring '" + pred.string() + "' against '" + captionsFile_.string() + "'");
  EXPECT_CONTAINS(message, "image '4' has no reference captions");
}

TEST_F(ScoreFilesTest, DuplicatePredictionIdsAreErrors) {
  const fs::path vqa = write("dup_vqa.json", R"([{"question_id": 101, "answer": "yes"},
                                                 {"question_id": 101, "answer": "no"}])");
  EXPECT_CONTAINS(errorOf([&] { scoreVqaFiles(vqa, questions_, annotations_); }),
                  "'" + vqa.string() + "': /1/question_id: duplicate question id 101");
  const fs::path cap = write("dup_cap.json", R"([{"image_id": 1, "caption": "a"}, {"image_id": 1, "caption": "b"}])");
  EXPECT_CONTAINS(errorOf([&] { scoreCaptionFiles(cap, captionsFile_); }),
                  "'" + cap.string() + "': /1/image_id: duplicate image id 1");
}

TEST_F(ScoreFilesTest, BadFilesAreErrorsNamingTheFile) {
  const fs::path broken = write("broken.json", "[{\"question_id\": 101, \"answer\": \"yes\"");
  EXPECT_CONTAINS(errorOf([&] { scoreVqaFiles(broken, questions_, annotations_); }),
                  "'" + broken.string() + "' is not valid JSON: byte");
  const fs::path missing = dir_ / "missing_annotations.json";
  EXPECT_CONTAINS(errorOf([&] { scoreVqaFiles(broken, questions_, missing); }),
                  "cannot read '" + missing.string() + "'");
  // Swapped arguments: a ground-truth file where the results should be.
  EXPECT_CONTAINS(errorOf([&] { scoreCaptionFiles(captionsFile_, captionsFile_); }),
                  "'" + captionsFile_.string() + "': top level: expected a list, found an object");
  const fs::path wrongType = write("wrong.json", R"([{"image_id": 1, "caption": ["a", "b"]}])");
  EXPECT_CONTAINS(errorOf([&] { scoreCaptionFiles(wrongType, captionsFile_); }),
                  "'" + wrongType.string() + "': /0/caption: expected a string, found an array");
  const fs::path empty = write("empty.json", "[]");
  EXPECT_CONTAINS(errorOf([&] { scoreCaptionFiles(empty, captionsFile_); }),
                  "'" + empty.string() + "' holds no predictions");
}

TEST_F(ScoreFilesTest, KeyPartsMustNotContainSlashesAndLookupsSuggestKeys) {
  const fs::path pred = dir_ / "p.json";
  data::writeVqaPredictions(pred, {{101, "yes"}});
  EXPECT_CONTAINS(errorOf([&] { scoreVqaFiles(pred, questions_, annotations_, "vqa/v2", "val"); }), "contain no '/'");
  EXPECT_CONTAINS(errorOf([&] { scoreVqaFiles(pred, questions_, annotations_, "vqav2", ""); }), "non-empty");
  const ScoreReport report = scoreVqaFiles(pred, questions_, annotations_);
  EXPECT_CONTAINS(errorOf([&] { report.metric("vqa/vqav2/val/acc_yesno"); }), "did you mean");
}

}  // namespace
}  // namespace prunelab::evaluators
