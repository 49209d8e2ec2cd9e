#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "evaluators/metrics/Cider.h"
#include "framework/core/Error.h"

namespace prunelab::evaluators {
namespace {

TEST(CiderTest, ThreeImagesByHand) {
  // Images (hypothesis | references):
  //   A: "a a" | "a b"          (a repeated unigram, clipped by min(w_h, w_r))
  //   B: "c"   | "a c"          (length penalty: 0 vs 1 bigram)
  //   C: "d e" | "d", "d e"     (two references, one shorter)
  // N = 3, L = ln 3. df(a) = 2 (refs of A and B), every other reference n-gram has df 1, and
  // hypothesis n-grams absent from all references use max(1, 0) = 1: so idf(a) = M = ln 3 - ln 2,
  // every other idf = L. Weights w = tf * idf. Penalty p(delta) = exp(-delta^2 / 72).
  //
  // A: hyp unigram a: w = 2M (norm 2M), bigram "a a": L.  ref a: M, b: L (norm sqrt(M^2 + L^2)), "a b": L.
  //    sim1 = min(2M, M) * M / (2M * sqrt(M^2 + L^2)) = M / (2 sqrt(M^2 + L^2)); sim2 = 0 ("a a" not in ref);
  //    both have 1 bigram: p = 1.  score_A = 10 * sim1 / 4.
  // B: hyp c: L (norm L), 0 bigrams. ref a: M, c: L, "a c": L, 1 bigram -> delta = -1.
  //    sim1 = L * L / (L * sqrt(M^2 + L^2)) * p(1).  score_B = 10 * sim1 / 4.
  // C: hyp d, e: L each (norm sqrt2 L), "d e": L, 1 bigram.
  //    ref "d": sim1 = L*L / (sqrt2 L * L) * p(1) = p(1)/sqrt2, sim2 = 0 (ref has no bigram: norm 0, no division).
  //    ref "d e": identical, sim1 = sim2 = 1.
  //    score_C = 10 * ((p(1)/sqrt2 + 1) + 1) / 4 / 2.
  const std::vector<ImageCaptions> images = {{"a a", {"a b"}}, {"c", {"a c"}}, {"d e", {"d", "d e"}}};
  const CiderScore score = ciderD(images);
  const double L = std::log(3.0);
  const double M = std::log(3.0) - std::log(2.0);
  const double p1 = std::exp(-1.0 / 72.0);
  const double a = 10.0 * (M / (2.0 * std::sqrt(M * M + L * L))) / 4.0;
  const double b = 10.0 * (L / std::sqrt(M * M + L * L) * p1) / 4.0;
  const double c = 10.0 * ((p1 / std::sqrt(2.0) + 1.0) + 1.0) / 4.0 / 2.0;
  ASSERT_EQ(score.perImage.size(), 3u);
  EXPECT_NEAR(score.perImage[0], a, 1e-12);
  EXPECT_NEAR(score.perImage[1], b, 1e-12);
  EXPECT_NEAR(score.perImage[2], c, 1e-12);
  EXPECT_NEAR(score.score, (a + b + c) / 3.0, 1e-12);
  EXPECT_NEAR(score.perImage[0], 0.4328, 1e-4);  // numeric sanity of the closed form
}

TEST(CiderTest, SingleImageScoresZero) {
  // ln N = ln 1 = 0 makes every weight 0 (coco-caption#9).
  const CiderScore score = ciderD({{"a dog runs", {"a dog runs"}}});
  EXPECT_EQ(score.score, 0.0);
}

TEST(CiderTest, DocumentFrequencyComesFromTheScoredImages) {
  // The same image scores differently inside two different sets: df (and N) change.
  const ImageCaptions target{"a dog on grass", {"a dog on the grass", "dog lying on grass"}};
  const CiderScore small = ciderD({target, {"a cat", {"a cat on a sofa"}}});
  const CiderScore large =
      ciderD({target, {"a cat", {"a cat on a sofa"}}, {"a car", {"a red car on a road"}}, {"x", {"y z"}}});
  EXPECT_GT(std::abs(small.perImage[0] - large.perImage[0]), 1e-6);
}

TEST(CiderTest, EmptyCaptionsGiveZeroNotNaN) {
  const CiderScore score = ciderD({{"", {"a b"}}, {"c d", {""}}, {"", {""}}});
  for (double s : score.perImage) {
    EXPECT_FALSE(std::isnan(s));
    EXPECT_EQ(s, 0.0);
  }
}

TEST(CiderTest, RejectsEmptyInput) {
  EXPECT_THROW(ciderD({}), prunelab::Error);
  EXPECT_THROW(ciderD({{"a", {}}}), prunelab::Error);
}

}  // namespace
}  // namespace prunelab::evaluators
