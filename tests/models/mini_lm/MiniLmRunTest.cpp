// Whole runs of mini_lm through the Runner: config presets, cache, pruning and the perplexity
// evaluator together.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/support/RunFixture.h"

namespace prunelab::models {
namespace {

// The tiny overrides (cache and outputs in a temp folder) with the LM, its data and its evaluator.
class MiniLmRunTest : public testing::TinyRunTest {
 protected:
  run::RunOutcome runLm(std::vector<std::string> extra) {
    extra.insert(extra.begin(), {"model=mini_lm_tiny", "dataset=fashion_scenes_tiny", "eval=perplexity"});
    return run(extra);
  }
};

TEST_F(MiniLmRunTest, DenseRunBeatsTheUnigramBaselineAndReloadsItsCache) {
  auto a = runLm({"pruner=none"});
  ASSERT_EQ(a.status, store::RunStatus::Finished) << a.error;
  auto m = store_.metrics(a.runId);
  ASSERT_TRUE(m.count("lm/fashion_scenes/test/ppl")) << "perplexity metric missing";
  ASSERT_TRUE(m.count("lm/fashion_scenes/test/unigram_ppl"));
  EXPECT_TRUE(m.count("train/mini_lm/train/loss"));
  EXPECT_GT(m["lm/fashion_scenes/test/ppl"], 1.0);
  EXPECT_LT(m["lm/fashion_scenes/test/ppl"], 0.5 * m["lm/fashion_scenes/test/unigram_ppl"]);

  auto b = runLm({"pruner=none"});
  ASSERT_EQ(b.status, store::RunStatus::Finished) << b.error;
  auto mb = store_.metrics(b.runId);
  EXPECT_FALSE(mb.count("train/mini_lm/train/loss")) << "the second run must load the cached weights";
  EXPECT_EQ(mb["lm/fashion_scenes/test/ppl"], m["lm/fashion_scenes/test/ppl"]);
}

TEST_F(MiniLmRunTest, WandaPrunesEveryBlockProjectionAndFinishes) {
  auto r = runLm({"pruner=wanda", "pruner.nsamples=32"});
  ASSERT_EQ(r.status, store::RunStatus::Finished) << r.error;
  auto layers = store_.layers(r.runId);
  ASSERT_EQ(layers.size(), 8u) << "2 blocks x (attn.qkv, attn.proj, mlp.fc1, mlp.fc2)";
  for (const auto& l : layers) {
    EXPECT_EQ(l.modality, "language") << l.name;
    EXPECT_DOUBLE_EQ(l.achievedSparsity, 0.5) << l.name;
  }
  auto m = store_.metrics(r.runId);
  EXPECT_TRUE(std::isfinite(m["lm/fashion_scenes/test/ppl"]));
  // Calibrating on the LM corpus instead of the scene captions works the same way.
  auto lm = runLm({"pruner=wanda", "pruner.nsamples=32", "+pruner.calib_split=lm_train"});
  ASSERT_EQ(lm.status, store::RunStatus::Finished) << lm.error;
}

}  // namespace
}  // namespace prunelab::models
