#include <gtest/gtest.h>

#include "framework/model/Safetensors.h"
#include "framework/prune/Selection.h"
#include "tests/support/RunFixture.h"

namespace prunelab::run {
namespace {

class RunnerSaveTest : public testing::TinyRunTest {};

TEST_F(RunnerSaveTest, MasksAndPrunedCheckpointMatchTheStoredLayers) {
  auto r = run({"pruner=magnitude", "pruner.sparsity=0.5", "save_masks=true", "save_checkpoint=true"});
  ASSERT_EQ(r.status, store::RunStatus::Finished) << r.error;
  const auto masks = model::loadSafetensors(r.outputDir / "masks.safetensors");
  const auto ckpt = model::loadSafetensors(r.outputDir / "pruned.safetensors");
  const auto layers = store_.layers(r.runId);
  ASSERT_EQ(masks.names().size(), layers.size());
  for (const auto& l : layers) {
    const auto keep = masks.get(l.name).to(torch::kBool);
    EXPECT_EQ(prune::maskHash(keep), l.maskSha256) << l.name;
    // The checkpoint (keyed by the module's parameter names) holds this layer's weight, zero
    // exactly where the mask says pruned.
    int matches = 0;
    for (const auto& [name, t] : ckpt.tensors)
      if (t.sizes() == keep.sizes() && torch::equal(t != 0, keep)) ++matches;
    EXPECT_EQ(matches, 1) << l.name;
  }
  EXPECT_EQ(ckpt.metadata.at("run_id"), r.runId);
}

TEST_F(RunnerSaveTest, NothingIsWrittenByDefault) {
  auto r = run({"pruner=magnitude"});
  ASSERT_EQ(r.status, store::RunStatus::Finished) << r.error;
  EXPECT_FALSE(std::filesystem::exists(r.outputDir / "masks.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(r.outputDir / "pruned.safetensors"));
}

}  // namespace
}  // namespace prunelab::run
