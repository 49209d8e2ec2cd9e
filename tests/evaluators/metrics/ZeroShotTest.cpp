#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "evaluators/metrics/ZeroShot.h"
#include "framework/core/Error.h"

namespace prunelab::evaluators {
namespace {

TEST(ZeroShotTest, FewerThanFiveClassesHasNoTop5) {
  // 5 images x 3 classes:
  //   img0 t0 (2,1,0): hit;  img1 t1 (1,1,0): tie 0/1 -> class 0 first -> miss;  img2 t1 (0,3,1): hit;
  //   img3 t0 (0,0,5): miss (class 2 predicted, never a target);  img4 t0 (5,0,0): hit.
  // top1 = 3/5. Recall: class 0 = 2/3 (hits img0, img4; miss img3), class 1 = 1/2; class 2 has no
  // target and is ignored -> mean (2/3 + 1/2) / 2 = 7/12.
  const std::vector<float> logits = {2, 1, 0,  //
                                     1, 1, 0,  //
                                     0, 3, 1,  //
                                     0, 0, 5,  //
                                     5, 0, 0};
  const ZeroShotAccuracy acc = zeroShotAccuracy(logits, 5, 3, {0, 1, 1, 0, 0});
  EXPECT_DOUBLE_EQ(acc.top1, 0.6);
  EXPECT_FALSE(acc.top5.has_value());
  EXPECT_NEAR(acc.meanPerClassRecall, 7.0 / 12.0, 1e-15);
  EXPECT_EQ(acc.numImages, 5u);
}

TEST(ZeroShotTest, Top5WithTies) {
  // 6 classes. img0 target 5 with four larger logits and one tie at a lower index -> rank 5: top-5 miss.
  // img1 target 4 with four larger logits -> rank 4: top-5 hit, top-1 miss.
  const std::vector<float> logits = {9, 8, 7, 6, 1, 1,  //
                                     9, 8, 7, 6, 1, 0};
  const ZeroShotAccuracy acc = zeroShotAccuracy(logits, 2, 6, {5, 4});
  EXPECT_EQ(acc.top1, 0.0);
  ASSERT_TRUE(acc.top5.has_value());
  EXPECT_EQ(*acc.top5, 0.5);
}

TEST(ZeroShotTest, ClassifierAndLogits) {
  // class 0 templates (3,4) and (0,2) -> normalised (0.6,0.8), (0,1) -> mean (0.3,0.9) -> / sqrt(0.9).
  // class 1 template (2,0) -> (1,0).  W is dim x classes: [[0.3/s, 1], [0.9/s, 0]], s = sqrt(0.9).
  const std::vector<float> w = buildZeroShotClassifier({{3, 4, 0, 2}, {2, 0}}, 2);
  const double s = std::sqrt(0.9);
  ASSERT_EQ(w.size(), 4u);
  EXPECT_NEAR(w[0], 0.3 / s, 1e-6);
  EXPECT_NEAR(w[1], 1.0, 1e-6);
  EXPECT_NEAR(w[2], 0.9 / s, 1e-6);
  EXPECT_NEAR(w[3], 0.0, 1e-6);
  // image (0, 2) -> normalised (0, 1) -> logits 100 * (0.9/s, 0).
  const std::vector<float> logits = zeroShotLogits({0, 2}, 1, w, 2, 2);
  EXPECT_NEAR(logits[0], 100.0 * 0.9 / s, 1e-4);
  EXPECT_NEAR(logits[1], 0.0, 1e-4);
}

TEST(ZeroShotTest, RejectsBadInputs) {
  EXPECT_THROW(buildZeroShotClassifier({{1, 0, -1, 0}}, 2), prunelab::Error);  // mean is the zero vector
  EXPECT_THROW(buildZeroShotClassifier({{1, 0, 1}}, 2), prunelab::Error);      // not a multiple of dim
  EXPECT_THROW(zeroShotAccuracy({1, 2}, 1, 2, {2}), prunelab::Error);          // target out of range
  EXPECT_THROW(zeroShotAccuracy({1, std::numeric_limits<float>::quiet_NaN()}, 1, 2, {0}), prunelab::Error);
  EXPECT_THROW(zeroShotAccuracy({1, 2, 3}, 1, 2, {0}), prunelab::Error);
}

TEST(ZeroShotTest, ZeroImageEmbeddingDoesNotProduceNaN) {
  // F.normalize divides by max(norm, 1e-12): a zero embedding gives zero logits, not NaN.
  const std::vector<float> logits = zeroShotLogits({0, 0}, 1, {1, 0, 0, 1}, 2, 2);
  EXPECT_EQ(logits[0], 0.0f);
  EXPECT_EQ(logits[1], 0.0f);
}

}  // namespace
}  // namespace prunelab::evaluators
