#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "evaluators/metrics/Bleu.h"
#include "evaluators/metrics/CaptionScorer.h"
#include "evaluators/metrics/Cider.h"
#include "evaluators/metrics/Rouge.h"
#include "framework/core/Error.h"

namespace prunelab::evaluators {
namespace {

using Predictions = std::map<std::string, std::string>;
using References = std::map<std::string, std::vector<std::string>>;

const References kRefs = {
    {"1", {"A man riding a wave on a surfboard.", "A surfer rides a large wave."}},
    {"2", {"Two dogs play with a frisbee.", "Dogs playing in the park."}},
    {"3", {"A plate of food with broccoli.", "Broccoli and rice on a plate."}},
};

void expectFinite(const CaptionScores& s) {
  for (double b : s.bleu) {
    EXPECT_TRUE(std::isfinite(b));
  }
  EXPECT_TRUE(std::isfinite(s.cider));
  EXPECT_TRUE(std::isfinite(s.rougeL));
}

TEST(CaptionScorerTest, TokenizesThenScoresLikeTheMetrics) {
  const Predictions preds = {
      {"1", "A man riding a wave on a surfboard!"}, {"2", "two dogs with a frisbee"}, {"3", "a plate of food"}};
  const CaptionScores s = CaptionScorer().score(preds, kRefs);
  // Same numbers as running the metrics on hand-tokenized captions (lower case, punctuation dropped).
  const std::vector<ImageCaptions> tokenized = {
      {"a man riding a wave on a surfboard", {"a man riding a wave on a surfboard", "a surfer rides a large wave"}},
      {"two dogs with a frisbee", {"two dogs play with a frisbee", "dogs playing in the park"}},
      {"a plate of food", {"a plate of food with broccoli", "broccoli and rice on a plate"}}};
  EXPECT_EQ(s.bleu, corpusBleu(tokenized).bleu);
  EXPECT_EQ(s.cider, ciderD(tokenized).score);
  EXPECT_EQ(s.rougeL, rougeL(tokenized).score);
  EXPECT_EQ(s.numImages, 3u);
  EXPECT_EQ(s.numReferenceImages, 3u);
  EXPECT_TRUE(s.complete);
  EXPECT_EQ(s.imageIds, (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_NEAR(s.rougePerImage[0], 1.0, 1e-12);  // identical after tokenization
}

TEST(CaptionScorerTest, RefusesPartialPredictionSetsByDefault) {
  const Predictions partial = {{"1", "a man surfing"}, {"2", "dogs"}};
  EXPECT_THROW(CaptionScorer().score(partial, kRefs), prunelab::Error);
  try {
    CaptionScorer().score(partial, kRefs);
  } catch (const prunelab::Error& e) {
    EXPECT_NE(std::string(e.what()).find("allowSubset"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'3'"), std::string::npos) << e.what();
  }
}

TEST(CaptionScorerTest, AllowSubsetMarksTheResultIncomplete) {
  const Predictions partial = {{"1", "a man surfing"}, {"2", "dogs"}};
  const CaptionScores s = CaptionScorer(CaptionScorerOptions().allowSubset(true)).score(partial, kRefs);
  EXPECT_FALSE(s.complete);
  EXPECT_EQ(s.numImages, 2u);
  EXPECT_EQ(s.numReferenceImages, 3u);
  EXPECT_EQ(s.ciderPerImage.size(), 2u);
  expectFinite(s);
}

TEST(CaptionScorerTest, UnknownImageAlwaysThrows) {
  Predictions preds = {{"1", "a"}, {"2", "b"}, {"3", "c"}, {"999", "d"}};
  EXPECT_THROW(CaptionScorer().score(preds, kRefs), prunelab::Error);
  EXPECT_THROW(CaptionScorer(CaptionScorerOptions().allowSubset(true)).score(preds, kRefs), prunelab::Error);
}

TEST(CaptionScorerTest, EmptyInputsAndReferenceLists) {
  EXPECT_THROW(CaptionScorer().score({}, kRefs), prunelab::Error);
  EXPECT_THROW(CaptionScorer().score({{"1", "a"}}, {}), prunelab::Error);
  EXPECT_THROW(CaptionScorer().score({{"1", "a"}}, {{"1", {}}}), prunelab::Error);
}

TEST(CaptionScorerTest, EmptyUnicodeAndVeryLongPredictionsStayFinite) {
  std::string longCaption;
  for (int i = 0; i < 5000; ++i) {
    longCaption += "a man riding a wave ";
  }
  const Predictions preds = {
      {"1", longCaption}, {"2", ""}, {"3", "une assiette de l\xC3\xA9gumes \xF0\x9F\xA5\xA6 \xFF\xFE"}};
  const CaptionScores s = CaptionScorer().score(preds, kRefs);
  expectFinite(s);
  EXPECT_EQ(s.ciderPerImage[1], 0.0);
  EXPECT_EQ(s.rougePerImage[1], 0.0);
}

TEST(CaptionScorerTest, PreTokenizedInputIsUsedAsGiven) {
  const References refs = {{"a", {"x y z"}}, {"b", {"u v"}}};
  const Predictions preds = {{"a", "X Y Z"}, {"b", "u v"}};
  const CaptionScores raw = CaptionScorer(CaptionScorerOptions().tokenize(false)).score(preds, refs);
  const CaptionScores tok = CaptionScorer().score(preds, refs);
  EXPECT_LT(raw.rougePerImage[0], 1.0);  // "X" != "x" without the tokenizer's lower-casing
  EXPECT_NEAR(tok.rougePerImage[0], 1.0, 1e-12);
}

}  // namespace
}  // namespace prunelab::evaluators
