#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "tests/support/RunFixture.h"

namespace prunelab::pruners {
namespace {

class CalibratedPrunersTest : public testing::TinyRunTest {
 protected:
  std::vector<std::string> stageNames(const std::string& runId) {
    std::vector<std::string> out;
    for (const auto& s : store_.stages(runId)) out.push_back(s.stage);
    return out;
  }
};

TEST_F(CalibratedPrunersTest, WandaPerRowRemovesExactlyHalfOfEveryRow) {
  auto r = run({"pruner=wanda", "pruner.nsamples=64"});
  ASSERT_EQ(r.status, store::RunStatus::Finished) << r.error;
  // Tiny MLP widths: fc0 is 32x784, fc1 is 16x32; int(in*0.5) zeros per row -> exactly 50%.
  for (const auto& l : store_.layers(r.runId)) EXPECT_DOUBLE_EQ(l.achievedSparsity, 0.5) << l.name;
  // Stages are stored in start order at millisecond resolution (stages that start in the same
  // millisecond may list either way), so check the set and the nesting by times.
  auto names = stageNames(r.runId);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"calibrate", "evaluate:accuracy", "fine", "load", "prune"}));
  std::map<std::string, store::StageRecord> byName;
  for (const auto& s : store_.stages(r.runId)) byName[s.stage] = s;
  for (const char* inner : {"calibrate", "fine"}) {
    EXPECT_GE(byName[inner].startMs, byName["prune"].startMs) << inner << " nests inside prune";
    EXPECT_LE(byName[inner].endMs, byName["prune"].endMs) << inner << " nests inside prune";
  }
  EXPECT_LE(byName["calibrate"].endMs, byName["fine"].startMs);
  EXPECT_LE(byName["prune"].endMs, byName["evaluate:accuracy"].startMs);
  EXPECT_GT(store_.metrics(r.runId)["cls/fashion_mnist/test/acc"], 20.0);
}

TEST_F(CalibratedPrunersTest, WandaNMKeepsTwoOfFour) {
  auto r = run({"pruner=wanda", "pruner.selection=nm", "pruner.nsamples=16"});
  ASSERT_EQ(r.status, store::RunStatus::Finished) << r.error;
  for (const auto& l : store_.layers(r.runId)) {
    EXPECT_DOUBLE_EQ(l.targetSparsity, 0.5);
    EXPECT_DOUBLE_EQ(l.achievedSparsity, 0.5) << l.name;
  }
}

TEST_F(CalibratedPrunersTest, SparseGptReachesTheTargetAndIsReproducible) {
  auto a = run({"pruner=sparsegpt", "pruner.nsamples=64"});
  auto b = run({"pruner=sparsegpt", "pruner.nsamples=64"});
  ASSERT_EQ(a.status, store::RunStatus::Finished) << a.error;
  ASSERT_EQ(b.status, store::RunStatus::Finished) << b.error;
  auto la = store_.layers(a.runId), lb = store_.layers(b.runId);
  ASSERT_EQ(la.size(), 2u);
  for (std::size_t i = 0; i < la.size(); ++i) {
    EXPECT_NEAR(la[i].achievedSparsity, 0.5, 0.01) << la[i].name;
    EXPECT_EQ(la[i].maskSha256, lb[i].maskSha256);
  }
  auto ma = testing::withoutTimes(store_.metrics(a.runId)), mb = testing::withoutTimes(store_.metrics(b.runId));
  ma.erase("train/mlp/train/loss");  // only the first run trained; the second loaded the cached weights
  EXPECT_TRUE(ma.count("memory/prune/peak_bytes"));  // memory figures are reproducible too
  EXPECT_EQ(ma, mb);
}

TEST_F(CalibratedPrunersTest, TooFewCalibrationSamplesFailTheRunWithAFix) {
  auto r = run({"pruner=wanda", "pruner.nsamples=100000"});
  EXPECT_EQ(r.status, store::RunStatus::Failed);
  EXPECT_NE(r.error.find("lower nsamples"), std::string::npos) << r.error;
}

}  // namespace
}  // namespace prunelab::pruners
