#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "framework/run/Job.h"
#include "tests/support/Assertions.h"
#include "tests/support/RunFixture.h"

namespace prunelab::pruners {
namespace {

using prunelab::testing::errorOf;

// The tiny MLP has two target matrices, vision.blocks.0.fc (32x784) and vision.blocks.1.fc
// (16x32), one block each, so block granularity gives two groups of 25088 and 512 weights.
class EcoflapPrunerTest : public testing::TinyRunTest {
 protected:
  std::vector<std::string> stageNames(const std::string& runId) {
    std::vector<std::string> out;
    for (const auto& s : store_.stages(runId)) out.push_back(s.stage);
    return out;
  }
  // Checks what every ECoFLaP run must satisfy: overall sparsity on target up to the per-row
  // rounding, no group beyond max_sparsity, metrics per group.
  void checkRun(const run::RunOutcome& r, double sparsity, double maxSparsity) {
    ASSERT_EQ(r.status, store::RunStatus::Finished) << r.error;
    auto layers = store_.layers(r.runId);
    ASSERT_EQ(layers.size(), 2u);
    double zeros = 0, total = 0;
    for (const auto& l : layers) {
      // Per row int(in·s) of `in` inputs are pruned: at most one weight per row below the target.
      const double in = l.name == "vision.blocks.0.fc" ? 784 : 32;
      EXPECT_LE(l.achievedSparsity, l.targetSparsity + 1e-12) << l.name;
      EXPECT_GE(l.achievedSparsity, l.targetSparsity - 1.0 / in - 1e-12) << l.name;
      EXPECT_LE(l.targetSparsity, maxSparsity + 1e-12) << l.name << " is sparser than max_sparsity";
      zeros += l.achievedSparsity * static_cast<double>(l.numel);
      total += static_cast<double>(l.numel);
    }
    // Rounding: ⌈n(1−s)⌉ per group in the allocation, int(in·s) per row in the fine step.
    const double rows = 32 + 16;
    EXPECT_NEAR(zeros / total, sparsity, (rows + 2) / total);
    auto metrics = store_.metrics(r.runId);
    EXPECT_NEAR(metrics["prune/targets/all/achieved_sparsity"], zeros / total, 1e-12);
    EXPECT_NEAR(metrics["prune/targets/ecoflap/allocated_sparsity"], sparsity, 2.0 / total);
    for (const char* group : {"vision.blocks.0", "vision.blocks.1"}) {
      const std::string p = std::string("prune/") + group + "/ecoflap/";
      ASSERT_TRUE(metrics.count(p + "coarse_score")) << p;
      EXPECT_GT(metrics[p + "coarse_score"], 0) << p;
      EXPECT_LE(metrics[p + "allocated_sparsity"], maxSparsity + 1e-12) << p;
      EXPECT_GE(metrics[p + "allocated_sparsity"], 0) << p;
      EXPECT_LE(metrics[p + "achieved_sparsity"], metrics[p + "allocated_sparsity"] + 1e-12) << p;
    }
  }
};

TEST_F(EcoflapPrunerTest, ZerothOrderReachesTheTargetUnderTheCapAndIsReproducible) {
  const std::vector<std::string> o = {"pruner=ecoflap_zeroth", "pruner.nsamples=32", "pruner.coarse.nsamples=16"};
  auto a = run(o);
  checkRun(a, 0.5, 0.6);
  // As a set: stages that start in the same millisecond (prune, coarse) list in either order.
  auto stages = stageNames(a.runId);
  std::sort(stages.begin(), stages.end());
  EXPECT_EQ(stages, (std::vector<std::string>{"allocate", "calibrate", "coarse", "evaluate:accuracy", "fine", "load",
                                              "prune"}));
  auto b = run(o);
  ASSERT_EQ(b.status, store::RunStatus::Finished) << b.error;
  auto la = store_.layers(a.runId), lb = store_.layers(b.runId);
  ASSERT_EQ(la.size(), lb.size());
  for (std::size_t i = 0; i < la.size(); ++i) {
    EXPECT_EQ(la[i].maskSha256, lb[i].maskSha256) << la[i].name;
    EXPECT_EQ(la[i].targetSparsity, lb[i].targetSparsity) << la[i].name;
  }
  auto ma = store_.metrics(a.runId), mb = store_.metrics(b.runId);
  EXPECT_EQ(ma["prune/vision.blocks.0/ecoflap/coarse_score"], mb["prune/vision.blocks.0/ecoflap/coarse_score"]);
}

TEST_F(EcoflapPrunerTest, ZerothReferenceModeAllocatesLikeTheFastMode) {
  auto fast =
      run({"pruner=ecoflap_zeroth", "pruner.nsamples=16", "pruner.coarse.nsamples=8", "pruner.coarse.pair=false"});
  auto reference =
      run({"pruner=ecoflap_zeroth", "pruner.nsamples=16", "pruner.coarse.nsamples=8", "pruner.coarse.mode=reference"});
  ASSERT_EQ(fast.status, store::RunStatus::Finished) << fast.error;
  ASSERT_EQ(reference.status, store::RunStatus::Finished) << reference.error;
  auto mf = store_.metrics(fast.runId), mr = store_.metrics(reference.runId);
  for (const char* k : {"prune/vision.blocks.0/ecoflap/coarse_score", "prune/vision.blocks.1/ecoflap/coarse_score"})
    EXPECT_NEAR(mf[k], mr[k], 1e-5 * mr[k]) << k;
  auto lf = store_.layers(fast.runId), lr = store_.layers(reference.runId);
  for (std::size_t i = 0; i < lf.size(); ++i) EXPECT_EQ(lf[i].maskSha256, lr[i].maskSha256) << lf[i].name;
}

TEST_F(EcoflapPrunerTest, FirstOrderReachesTheTargetUnderTheCap) {
  auto r = run({"pruner=ecoflap_first", "pruner.nsamples=32", "pruner.coarse.nsamples=16", "pruner.sparsity=0.6"});
  checkRun(r, 0.6, 0.7);
}

TEST_F(EcoflapPrunerTest, SparseGptFineStepAndLayerGranularity) {
  auto r = run({"pruner=ecoflap_zeroth_sparsegpt", "pruner.nsamples=32", "pruner.coarse.nsamples=8",
                "pruner.granularity=layer", "pruner.max_sparsity=0.55"});
  ASSERT_EQ(r.status, store::RunStatus::Finished) << r.error;
  for (const auto& l : store_.layers(r.runId)) {
    EXPECT_LE(l.targetSparsity, 0.55 + 1e-12) << l.name;
    EXPECT_NEAR(l.achievedSparsity, l.targetSparsity, 0.02) << l.name;
  }
  EXPECT_TRUE(store_.metrics(r.runId).count("prune/vision.blocks.0.fc/ecoflap/coarse_score"));
}

TEST_F(EcoflapPrunerTest, LocalScoresAllocateFromTheFineStepSaliency) {
  auto r = run({"pruner=ecoflap_local", "pruner.nsamples=32", "pruner.sparsity=0.6"});
  checkRun(r, 0.6, 0.7);
  // Magnitude's local score needs no data (Σ|W|, exact values in CoarseScoresTest).
  auto m = run({"pruner=ecoflap_local", "pruner.score=magnitude", "pruner.nsamples=32", "pruner.sparsity=0.6"});
  checkRun(m, 0.6, 0.7);
  auto metrics = store_.metrics(m.runId);
  // The Wanda and SparseGPT saliencies weigh the blocks differently from magnitude.
  auto w = store_.metrics(r.runId);
  EXPECT_NE(w["prune/vision.blocks.0/ecoflap/coarse_score"], metrics["prune/vision.blocks.0/ecoflap/coarse_score"]);
  auto s = run({"pruner=ecoflap_local", "pruner.reconstruction=obs", "pruner.selection=adaptive",
                "pruner.nsamples=32"});
  ASSERT_EQ(s.status, store::RunStatus::Finished) << s.error;
  EXPECT_GT(store_.metrics(s.runId)["prune/vision.blocks.1/ecoflap/coarse_score"], 0);
}

TEST_F(EcoflapPrunerTest, MaxSparsityBelowTheTargetIsRejectedWithTheFix) {
  const auto msg = errorOf([&] {
    run::prepareJob(composer_, overrides({"pruner=ecoflap_zeroth", "pruner.max_sparsity=0.4"}), registries_);
  });
  EXPECT_CONTAINS(msg, "max_sparsity 0.4 is below the target sparsity 0.5");
  EXPECT_CONTAINS(msg, "pruner.max_sparsity >= 0.5");
}

TEST_F(EcoflapPrunerTest, BadCombinationsAreRejectedBeforeTheRun) {
  EXPECT_CONTAINS(errorOf([&] {
                    run::prepareJob(composer_, overrides({"pruner=ecoflap_first", "pruner.selection=nm"}), registries_);
                  }),
                  "selection=nm fixes every matrix");
  EXPECT_CONTAINS(
      errorOf([&] {
        run::prepareJob(composer_, overrides({"pruner=ecoflap_zeroth", "pruner.coarse.order=second"}), registries_);
      }),
      "coarse.order 'second' is not supported");
  EXPECT_CONTAINS(
      errorOf([&] {
        run::prepareJob(composer_, overrides({"pruner=ecoflap_zeroth", "pruner.sparsity=0.95"}), registries_);
      }),
      "default max_sparsity");
}

}  // namespace
}  // namespace prunelab::pruners
