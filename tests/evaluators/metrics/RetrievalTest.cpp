#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "evaluators/metrics/Retrieval.h"
#include "framework/core/Error.h"

namespace prunelab::evaluators {
namespace {

// 3 images, 5 texts; texts 0,1 describe image 0, texts 2,3 image 1, text 4 image 2.
const std::vector<std::int64_t> kTxt2Img = {0, 0, 1, 1, 2};
// Row-major image x text similarities with ties.
const std::vector<float> kSim = {
    0.9f, 0.1f, 0.9f, 0.5f, 0.2f,  // image 0: texts 0 and 2 tie at 0.9
    0.3f, 0.3f, 0.2f, 0.3f, 0.3f,  // image 1: four-way tie at 0.3, GT text 3 inside it
    0.8f, 0.7f, 0.6f, 0.5f, 0.1f,  // image 2: GT text 4 is last
};

TEST(RetrievalTest, DescendingRankWithTies) {
  const float row[] = {0.5f, 0.7f, 0.5f, 0.5f};
  // Target 0: one larger score (index 1); ties 2, 3 come after it (lower index first) or before it.
  EXPECT_EQ(descendingRank(row, 4, 0, RetrievalTieBreak::kLowerIndexFirst), 1);
  EXPECT_EQ(descendingRank(row, 4, 0, RetrievalTieBreak::kHigherIndexFirst), 3);
  EXPECT_EQ(descendingRank(row, 4, 2, RetrievalTieBreak::kLowerIndexFirst), 2);
  EXPECT_EQ(descendingRank(row, 4, 2, RetrievalTieBreak::kHigherIndexFirst), 2);
  EXPECT_EQ(descendingRank(row, 4, 1), 0);
}

TEST(RetrievalTest, RanksAndRecallsByHand) {
  // i2t, lower index first:
  //   image 0: order 0, 2 (tie 0.9), 3, 4, 1 -> best GT (0 or 1) is text 0 at rank 0;
  //   image 1: order 0, 1, 3, 4 (tie 0.3), 2 -> best GT (2 or 3) is text 3 at rank 2;
  //   image 2: GT text 4 has the lowest score -> rank 4.
  // t2i uses the transpose: text t's row is column t of kSim.
  //   text 0 (0.9, 0.3, 0.8) GT 0 -> 0;  text 1 (0.1, 0.3, 0.7) GT 0 -> 2;  text 2 (0.9, 0.2, 0.6) GT 1 -> 2;
  //   text 3 (0.5, 0.3, 0.5) GT 1 -> 2;  text 4 (0.2, 0.3, 0.1) GT 2 -> 2.
  const RetrievalRecall r = retrievalRecall(kSim, 3, 5, kTxt2Img);
  EXPECT_EQ(r.i2tRanks, (std::vector<std::int64_t>{0, 2, 4}));
  EXPECT_EQ(r.t2iRanks, (std::vector<std::int64_t>{0, 2, 2, 2, 2}));
  EXPECT_NEAR(r.txtR1, 100.0 / 3.0, 1e-12);
  EXPECT_EQ(r.txtR5, 100.0);
  EXPECT_EQ(r.txtR10, 100.0);
  EXPECT_EQ(r.imgR1, 20.0);
  EXPECT_EQ(r.imgR5, 100.0);
  EXPECT_NEAR(r.txtRMean, (100.0 / 3.0 + 200.0) / 3.0, 1e-12);
  EXPECT_NEAR(r.imgRMean, 220.0 / 3.0, 1e-12);
  EXPECT_NEAR(r.rMean, (r.txtRMean + r.imgRMean) / 2.0, 1e-12);
}

TEST(RetrievalTest, HigherIndexFirstTieRule) {
  // image 0: order 2, 0, 3, 4, 1 -> text 0 at rank 1; image 1: order 4, 3, 1, 0, 2 -> text 3 at rank 1.
  const RetrievalRecall r = retrievalRecall(kSim, 3, 5, kTxt2Img, RetrievalTieBreak::kHigherIndexFirst);
  EXPECT_EQ(r.i2tRanks, (std::vector<std::int64_t>{1, 1, 4}));
  // text 3 (0.5, 0.3, 0.5), GT 1: larger scores at 0 and 2 -> still 2.
  EXPECT_EQ(r.t2iRanks[3], 2);
}

TEST(RetrievalTest, RecallAtTenNeedsRankBelowTen) {
  // One image, 12 captions all of it; the best GT caption sits at rank 0 -> hit. For t2i each text
  // has one candidate image -> rank 0. Now a second image whose only caption is ranked 11th.
  std::vector<float> sim(2 * 12, 0.0f);
  std::vector<std::int64_t> txt2img(12, 0);
  txt2img[11] = 1;
  for (int t = 0; t < 12; ++t) {
    sim[0 * 12 + t] = 1.0f;
    sim[1 * 12 + t] = 1.0f - 0.01f * static_cast<float>(t);  // text 11 is last for image 1
  }
  const RetrievalRecall r = retrievalRecall(sim, 2, 12, txt2img);
  EXPECT_EQ(r.i2tRanks[1], 11);
  EXPECT_EQ(r.txtR10, 50.0);
}

TEST(RetrievalTest, ImageWithoutCaptionsIsAMiss) {
  const std::vector<float> sim = {0.9f, 0.1f, 0.2f, 0.8f};  // 2 images x 2 texts
  const RetrievalRecall r = retrievalRecall(sim, 2, 2, {0, 0});
  EXPECT_EQ(r.i2tRanks[1], kMissingRank);  // never < K
  EXPECT_EQ(r.txtR10, 50.0);
}

TEST(RetrievalTest, SeparateI2tAndT2iMatrices) {
  const std::vector<float> i2t = {1.0f, 0.0f, 0.0f, 1.0f};  // 2 x 2, perfect
  const std::vector<float> t2i = {0.0f, 1.0f, 1.0f, 0.0f};  // 2 x 2, always wrong
  const RetrievalRecall r = retrievalRecall(i2t, t2i, 2, 2, {0, 1});
  EXPECT_EQ(r.txtR1, 100.0);
  EXPECT_EQ(r.imgR1, 0.0);
  EXPECT_EQ(r.imgR5, 100.0);
}

TEST(RetrievalTest, TopKAndItmRerank) {
  // itc 2 x 4; top-2 per row, ties lower index first.
  const std::vector<float> itc = {0.1f, 0.5f, 0.5f, 0.2f,  //
                                  0.9f, 0.0f, 0.3f, 0.4f};
  const auto topK = topKIndices(itc, 2, 4, 2);
  EXPECT_EQ(topK[0], (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(topK[1], (std::vector<std::int64_t>{0, 3}));
  const std::vector<std::vector<float>> itm = {{1.0f, 3.0f}, {-2.0f, 0.5f}};
  const std::vector<float> scores = itmRerankScores(itc, 2, 4, topK, itm);
  // score = itm + itc at the top-k columns, -100 elsewhere.
  const std::vector<float> expected = {-100.0f,      1.0f + 0.5f, 3.0f + 0.5f, -100.0f,  //
                                       -2.0f + 0.9f, -100.0f,     -100.0f,     0.5f + 0.4f};
  EXPECT_EQ(scores, expected);
  // The re-ranked matrix flips row 0: text 2 now first.
  EXPECT_EQ(descendingRank(scores.data(), 4, 2), 0);
  EXPECT_EQ(topKIndices(itc, 2, 4, 10)[0].size(), 4u);  // k clamped
}

TEST(RetrievalTest, RejectsNaNAndBadShapes) {
  std::vector<float> sim = kSim;
  sim[7] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(retrievalRecall(sim, 3, 5, kTxt2Img), prunelab::Error);
  EXPECT_THROW(retrievalRecall(kSim, 3, 4, kTxt2Img), prunelab::Error);
  EXPECT_THROW(retrievalRecall(kSim, 3, 5, {0, 0, 1, 1, 3}), prunelab::Error);
  EXPECT_THROW(retrievalRecall(kSim, 3, 5, {0, 0, 1}), prunelab::Error);
  EXPECT_THROW(itmRerankScores(kSim, 3, 5, {{0}}, {{1.0f}}), prunelab::Error);
}

}  // namespace
}  // namespace prunelab::evaluators
