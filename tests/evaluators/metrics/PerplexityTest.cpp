#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "evaluators/metrics/Perplexity.h"
#include "framework/core/Error.h"

namespace prunelab::evaluators {
namespace {

TEST(PerplexityTest, ChunkPlanDropsTheTail) {
  const ChunkPlan plan = planChunks(10, 4);  // floor(10 / 4) = 2 chunks, 2 tokens dropped
  EXPECT_EQ(plan.numChunks, 2);
  EXPECT_EQ(plan.droppedTokens, 2);
  EXPECT_EQ(plan.begin(1), 4);
  EXPECT_EQ(planChunks(8, 4).droppedTokens, 0);
  EXPECT_THROW(planChunks(3, 4), prunelab::Error);
  EXPECT_THROW(planChunks(10, 1), prunelab::Error);
}

TEST(PerplexityTest, ExpOfMeanChunkLoss) {
  // L = 4, chunk CEs ln 2 and ln 8: NLL = 4 ln 2 + 4 ln 8 = 4 ln 16; / (2 * 4) = ln 4 -> ppl 4.
  EXPECT_NEAR(perplexityFromChunkLosses({std::log(2.0), std::log(8.0)}, 4), 4.0, 1e-12);
  // A perfect model: CE 0 -> ppl 1.
  EXPECT_EQ(perplexityFromChunkLosses({0.0, 0.0}, 2048), 1.0);
}

TEST(PerplexityTest, InfiniteLossIsInfinitePerplexityNaNThrows) {
  EXPECT_TRUE(std::isinf(perplexityFromChunkLosses({1.0, std::numeric_limits<double>::infinity()}, 8)));
  EXPECT_THROW(perplexityFromChunkLosses({1.0, std::numeric_limits<double>::quiet_NaN()}, 8), prunelab::Error);
  EXPECT_THROW(perplexityFromChunkLosses({-0.5}, 8), prunelab::Error);
  EXPECT_THROW(perplexityFromChunkLosses({}, 8), prunelab::Error);
}

}  // namespace
}  // namespace prunelab::evaluators
