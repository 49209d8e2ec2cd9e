#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "evaluators/metrics/Bleu.h"
#include "framework/core/Error.h"

namespace prunelab::evaluators {
namespace {

TEST(BleuTest, GoldenCorpusArithmetic) {
  // salaniz/pycocoevalcap#25 log: guess [9893, 8893, 7893, 6893], correct [5732, 2510, 1043, 423],
  // reflen 9855 -> Bleu_1..4 = 0.579 / 0.404 / 0.279 / 0.191. testlen C = guess[0] = 9893, so
  // ratio = 9893 / 9855 > 1 and there is no brevity penalty. By hand:
  //   p1 = 5732/9893 = 0.57940, p2 = 2510/8893 = 0.28225, p3 = 1043/7893 = 0.13214, p4 = 423/6893 = 0.06137
  //   B1 = 0.5794, B2 = sqrt(p1 p2) = 0.4044, B3 = (p1 p2 p3)^(1/3) = 0.2792, B4 = (p1 p2 p3 p4)^(1/4) = 0.1912
  BleuStats stats;
  stats.guess = {9893, 8893, 7893, 6893};
  stats.correct = {5732, 2510, 1043, 423};
  stats.testLength = stats.guess[0];
  stats.refLength = 9855;
  const auto bleu = bleuFromStats(stats);
  EXPECT_NEAR(bleu[0], 0.579, 5e-4);
  EXPECT_NEAR(bleu[1], 0.404, 5e-4);
  EXPECT_NEAR(bleu[2], 0.279, 5e-4);
  EXPECT_NEAR(bleu[3], 0.191, 5e-4);
  EXPECT_NEAR(bleu[1], std::sqrt((5732.0 / 9893.0) * (2510.0 / 8893.0)), 1e-12);
}

TEST(BleuTest, ClippedCountsAndBrevityPenalty) {
  // hyp "the the the the" (c = 4); refs "the cat" (2) and "the the cat sat on" (5).
  //   closest ref length: |2-4| = 2, |5-4| = 1 -> 5.
  //   unigram "the" x4, max ref count max(1, 2) = 2 -> correct1 = 2;
  //   bigram "the the" x3, max ref count 1 -> correct2 = 1; no 3-/4-gram matches.
  //   guess = [4, 3, 2, 1]; ratio = 4/5 = 0.8 < 1 -> BP = exp(1 - 1/0.8) = exp(-0.25).
  //   B1 = 2/4 * BP; B2 = sqrt(2/4 * 1/3) * BP; B3 = (2/4 * 1/3 * 1e-15/2)^(1/3) * BP.
  const BleuStats stats = bleuImageStats("the the the the", {"the cat", "the the cat sat on"});
  EXPECT_EQ(stats.testLength, 4);
  EXPECT_EQ(stats.refLength, 5);
  EXPECT_EQ(stats.guess, (std::array<std::int64_t, 4>{4, 3, 2, 1}));
  EXPECT_EQ(stats.correct, (std::array<std::int64_t, 4>{2, 1, 0, 0}));
  const BleuScore score = corpusBleu({{"the the the the", {"the cat", "the the cat sat on"}}});
  const double bp = std::exp(-0.25);
  EXPECT_NEAR(score.bleu[0], 0.5 * bp, 1e-9);
  EXPECT_NEAR(score.bleu[1], std::sqrt(0.5 / 3.0) * bp, 1e-9);
  EXPECT_NEAR(score.bleu[2], std::cbrt(0.5 / 3.0 * 0.5e-15) * bp, 1e-9);
  EXPECT_NEAR(score.ratio, 0.8, 1e-9);
}

TEST(BleuTest, ClosestReferenceTiesGoToTheShorter) {
  // c = 4, refs of length 3 and 5 are equally close: min((|l - c|, l)) picks 3.
  EXPECT_EQ(bleuImageStats("a b c d", {"x y z w v", "x y z"}).refLength, 3);
  EXPECT_EQ(bleuImageStats("a b c d", {"x y z", "x y z w v"}).refLength, 3);
}

TEST(BleuTest, CorpusIsTheSumOfImageStatistics) {
  const std::vector<ImageCaptions> images = {{"a cat on a mat", {"a cat sits on the mat", "there is a cat"}},
                                             {"a dog", {"a brown dog runs", "the dog"}}};
  BleuStats sum = bleuImageStats(images[0].hypothesis, images[0].references);
  sum += bleuImageStats(images[1].hypothesis, images[1].references);
  const BleuScore score = corpusBleu(images);
  EXPECT_EQ(score.total.testLength, 7);
  EXPECT_EQ(score.total.refLength, sum.refLength);
  EXPECT_EQ(score.total.correct, sum.correct);
  EXPECT_EQ(score.bleu, bleuFromStats(sum));
  ASSERT_EQ(score.perImage.size(), 2u);
  EXPECT_EQ(score.perImage[1], bleuFromStats(bleuImageStats(images[1].hypothesis, images[1].references)));
}

TEST(BleuTest, EmptyHypothesisScoresZeroWithoutNaN) {
  const BleuScore score = corpusBleu({{"", {"a b c"}}});
  for (double b : score.bleu) {
    EXPECT_FALSE(std::isnan(b));
    EXPECT_NEAR(b, 0.0, 1e-12);
  }
  EXPECT_EQ(score.total.refLength, 3);
}

TEST(BleuTest, SplitsOnAnyWhitespaceLikePython) {
  // str.split(): tabs, repeated spaces and U+00A0 separate tokens.
  const BleuStats stats = bleuImageStats(
      "a\tb  c\xC2\xA0"
      "d",
      {"a b c d"});
  EXPECT_EQ(stats.testLength, 4);
  EXPECT_EQ(stats.correct, (std::array<std::int64_t, 4>{4, 3, 2, 1}));
}

TEST(BleuTest, RejectsMissingReferences) {
  EXPECT_THROW(corpusBleu({}), prunelab::Error);
  EXPECT_THROW(corpusBleu({{"a", {}}}), prunelab::Error);
  EXPECT_THROW(bleuImageStats("a", {}), prunelab::Error);
}

}  // namespace
}  // namespace prunelab::evaluators
