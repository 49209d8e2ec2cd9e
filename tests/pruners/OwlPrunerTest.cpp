#include <gtest/gtest.h>

#include "experiments/App.h"
#include "framework/config/Composer.h"
#include "framework/run/Job.h"
#include "framework/run/Runner.h"
#include "tests/support/Assertions.h"
#include "tests/support/Fixtures.h"

namespace prunelab::pruners {
namespace {

using prunelab::testing::errorOf;

class OwlPrunerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::haveFashionMnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
    app::registerAllPlugins(registries_);
  }
  std::vector<std::string> overrides(std::vector<std::string> extra) {
    auto o = testing::tinyRunOverrides(dir_.path());
    o.insert(o.end(), extra.begin(), extra.end());
    return o;
  }
  run::RunOutcome run(std::vector<std::string> extra) {
    run::Runner runner(registries_, store_, {":memory:", PRUNELAB_SOURCE_DIR, false, {}});
    return runner.run(run::prepareJob(composer_, overrides(std::move(extra)), registries_));
  }
  run::Registries registries_;
  testing::TempDir dir_;
  store::RunStore store_{":memory:"};
  config::Composer composer_{testing::repoConfigDir()};
};

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
