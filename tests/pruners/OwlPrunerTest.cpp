#include <gtest/gtest.h>

#include "framework/run/Job.h"
#include "tests/support/Assertions.h"
#include "tests/support/RunFixture.h"

namespace prunelab::pruners {
namespace {

using prunelab::testing::errorOf;

class OwlPrunerTest : public testing::TinyRunTest {};

// The tiny MLP's two blocks differ in size (25088 and 512 weights), so the numel-weighted centre
// is what keeps the overall sparsity on target.
TEST_F(OwlPrunerTest, SparsitiesSpanTwoLambdaAndMeetTheTarget) {
  auto r = run({"pruner=owl", "pruner.nsamples=32", "pruner.numel_weighted=true", "pruner.lambda=0.1"});
  ASSERT_EQ(r.status, store::RunStatus::Finished) << r.error;
  auto m = store_.metrics(r.runId);
  const double s0 = m["prune/vision.blocks.0/owl/allocated_sparsity"];
  const double s1 = m["prune/vision.blocks.1/owl/allocated_sparsity"];
  const double d0 = m["prune/vision.blocks.0/owl/outlier_ratio"], d1 = m["prune/vision.blocks.1/owl/outlier_ratio"];
  ASSERT_NE(d0, d1);
  EXPECT_NEAR(std::fabs(s0 - s1), 0.2, 1e-9) << "two groups: the spread is exactly 2λ";
  EXPECT_EQ(d0 > d1, s0 < s1) << "more outliers, lower sparsity";
  EXPECT_NEAR(m["prune/targets/owl/allocated_sparsity"], 0.5, 1e-9);
  EXPECT_NEAR(m["prune/targets/all/achieved_sparsity"], 0.5, 50.0 / 25600);
  for (const auto& l : store_.layers(r.runId)) EXPECT_LE(l.achievedSparsity, l.targetSparsity + 1e-12) << l.name;
}

TEST_F(OwlPrunerTest, NmIsRejected) {
  EXPECT_CONTAINS(errorOf([&] {
                    run::prepareJob(composer_, overrides({"pruner=owl", "pruner.selection=nm"}), registries_);
                  }),
                  "selection=nm fixes every matrix");
}

}  // namespace
}  // namespace prunelab::pruners
