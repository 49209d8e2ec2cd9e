#include <gtest/gtest.h>

#include <map>

#include "framework/run/Job.h"
#include "pruners/layerwise/LayerwisePruner.h"
#include "tests/pruners/TinyPruneSetup.h"
#include "tests/support/Assertions.h"
#include "tests/support/RunFixture.h"

namespace prunelab::pruners {
namespace {

using prunelab::testing::errorOf;
using prunelab::testing::TinyPruneSetup;
using prunelab::testing::zerosOf;

LayerwisePruner::Options perModule(std::map<std::string, double> ratios) {
  LayerwisePruner::Options o;
  o.fine.score = "wanda";
  o.fine.selection = "per_row";
  o.blockwise.nsamples = 16;
  o.blockwise.calib_batch_size = 4;
  o.module_sparsity = std::move(ratios);
  return o;
}

double metricOf(const prune::PruneResult& r, const std::string& key) {
  for (const auto& m : r.metrics)
    if (m.key == key) return m.value;
  ADD_FAILURE() << "no metric " << key;
  return std::nan("");
}

// Wanda per row prunes int(in·s) of each row: with in = 8 (fc1) and 16 (fc2) both ratios are
// exact, so every matrix must reach its modality's ratio exactly, in every row.
TEST(LayerwisePerModule, EachModalityGetsItsRatio) {
  TinyPruneSetup t(8, 2, 1);
  auto o = perModule({{"vision", 0.25}, {"language", 0.75}});
  o.validate();
  const auto r = LayerwisePruner(o).prune(t.ctx);
  const std::map<std::string, double> ratio = {{"vision", 0.25}, {"language", 0.75}};
  ASSERT_EQ(r.layers.size(), 8u);
  for (const auto& l : r.layers) {
    EXPECT_DOUBLE_EQ(l.targetSparsity, ratio.at(l.modality)) << l.name;
    EXPECT_DOUBLE_EQ(l.achievedSparsity, ratio.at(l.modality)) << l.name;
  }
  for (const auto& l : t.targets()) {
    const auto w = l.layer->weight.detach();
    const auto perRow = (w == 0).sum(1);
    const auto expected = static_cast<std::int64_t>(static_cast<double>(w.size(1)) * ratio.at(l.modality));
    EXPECT_TRUE((perRow == expected).all().item<bool>()) << l.name;
  }
  EXPECT_DOUBLE_EQ(metricOf(r, "prune/vision/layerwise/allocated_sparsity"), 0.25);
  EXPECT_DOUBLE_EQ(metricOf(r, "prune/language/layerwise/allocated_sparsity"), 0.75);
  EXPECT_DOUBLE_EQ(metricOf(r, "prune/vision/layerwise/achieved_sparsity"), 0.25);
  EXPECT_DOUBLE_EQ(metricOf(r, "prune/language/layerwise/achieved_sparsity"), 0.75);
  // Equal vision and language sizes: the overall is the plain mean of the ratios.
  EXPECT_DOUBLE_EQ(metricOf(r, "prune/targets/layerwise/allocated_sparsity"), 0.5);
}

TEST(LayerwisePerModule, AMissingModalityIsAnErrorBeforeAnythingIsPruned) {
  TinyPruneSetup t(4, 1, 2);
  auto msg = errorOf([&] { LayerwisePruner(perModule({{"vision", 0.5}})).prune(t.ctx); });
  EXPECT_CONTAINS(msg, "no per-module ratio for modality 'language'");
  EXPECT_CONTAINS(msg, "ratios given: 'vision'");
  msg = errorOf([&] { LayerwisePruner(perModule({{"vision", 0.5}, {"langauge", 0.5}})).prune(t.ctx); });
  EXPECT_CONTAINS(msg, "did you mean 'langauge'");
  for (const auto& l : t.targets()) EXPECT_EQ(zerosOf(l), 0) << l.name;
  EXPECT_TRUE(t.profiler.records().empty()) << "no calibration before the allocation is known to work";
}

TEST(LayerwisePerModule, BadRatiosAndNmAreRejected) {
  EXPECT_CONTAINS(errorOf([] { perModule({{"vision", 1.0}}).validate(); }), "module_sparsity.vision must be in [0, 1)");
  auto nm = perModule({{"vision", 0.5}});
  nm.fine.selection = "nm";
  EXPECT_CONTAINS(errorOf([&] { nm.validate(); }), "selection=nm fixes every matrix");
  perModule({}).validate();
}

class LayerwisePerModuleRunTest : public testing::TinyRunTest {};

// The preset's map is read from YAML; the tiny MLP is vision only, so the language ratio is unused.
TEST_F(LayerwisePerModuleRunTest, PresetAppliesTheVisionRatio) {
  auto r = run({"pruner=uniform_per_module", "pruner.nsamples=16"});
  ASSERT_EQ(r.status, store::RunStatus::Finished) << r.error;
  for (const auto& l : store_.layers(r.runId)) EXPECT_DOUBLE_EQ(l.targetSparsity, 0.4) << l.name;
  auto m = store_.metrics(r.runId);
  EXPECT_DOUBLE_EQ(m["prune/vision/layerwise/allocated_sparsity"], 0.4);
  EXPECT_FALSE(m.count("prune/language/layerwise/allocated_sparsity"));
}

}  // namespace
}  // namespace prunelab::pruners
