#include <gtest/gtest.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include "experiments/App.h"
#include "framework/config/Composer.h"
#include "framework/core/Error.h"
#include "framework/run/Job.h"
#include "framework/run/Runner.h"
#include "tests/support/Fixtures.h"

namespace prunelab::run {
namespace {

// A pruner that always throws, to prove a failing job is recorded and does not stop others.
class ThrowingPruner : public prune::Pruner {
 public:
  struct Options {
    double sparsity = 0.0;
    std::vector<std::string> targets;
    template <class V>
    void visit(V& v) {
      v(sparsity, "sparsity", "");
      v(targets, "targets", "");
    }
  };
  explicit ThrowingPruner(Options) {}
  prune::PruneResult prune(prune::PruneContext&) override { PL_THROW("deliberate failure for the test"); }
};

class RunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::haveFashionMnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
    app::registerAllPlugins(registries_);
    registries_.pruners.add<ThrowingPruner>("throwing", "test only");
  }
  std::vector<std::string> overrides(std::vector<std::string> extra, const std::string& cacheName = "cache") {
    auto o = testing::tinyRunOverrides(dir_.path());
    o[2] = "cache_dir=" + (dir_ / cacheName).string();
    o.insert(o.end(), extra.begin(), extra.end());
    return o;
  }
  Registries registries_;
  testing::TempDir dir_;
  config::Composer composer_{testing::repoConfigDir()};
};

TEST_F(RunnerTest, TinyRunFinishesWithMetricsLayersAndStages) {
  store::RunStore store(":memory:");
  Runner runner(registries_, store, {":memory:", PRUNELAB_SOURCE_DIR, false, {}});
  auto job = prepareJob(composer_, overrides({"pruner.sparsity=0.5"}), registries_);
  auto outcome = runner.run(job);
  ASSERT_EQ(outcome.status, store::RunStatus::Finished) << outcome.error;
  auto metrics = store.metrics(outcome.runId);
  ASSERT_TRUE(metrics.count("cls/fashion_mnist/test/acc"));
  EXPECT_GT(metrics["cls/fashion_mnist/test/acc"], 30.0);  // far above chance (10%) even when tiny
  EXPECT_NEAR(metrics["prune/targets/all/achieved_sparsity"], 0.5, 0.01);
  // Per modality too; the MLP's blocks are all vision.
  EXPECT_EQ(metrics["prune/targets/vision/achieved_sparsity"], metrics["prune/targets/all/achieved_sparsity"]);
  EXPECT_FALSE(metrics.count("prune/targets/language/achieved_sparsity"));
  // The tiny MLP: 784*32+32 + 32*16+16 + 16*10+10 parameters; half of the two block weights are zero.
  EXPECT_EQ(metrics["model/all/all/params"], 784.0 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10);
  EXPECT_NEAR(metrics["model/all/all/params"] - metrics["model/all/all/nonzero"], 0.5 * (784 * 32 + 32 * 16), 20);
  auto layers = store.layers(outcome.runId);
  ASSERT_EQ(layers.size(), 2u);
  for (const auto& l : layers) EXPECT_NEAR(l.achievedSparsity, 0.5, 0.01) << l.name;
  std::vector<std::string> stageNames;
  for (const auto& s : store.stages(outcome.runId)) stageNames.push_back(s.stage);
  EXPECT_EQ(stageNames, (std::vector<std::string>{"load", "prune", "evaluate:accuracy"}));
  EXPECT_TRUE(std::filesystem::exists(outcome.outputDir / ".hydra" / "config.yaml"));
  EXPECT_TRUE(std::filesystem::exists(outcome.outputDir / ".hydra" / "overrides.yaml"));
  EXPECT_TRUE(std::filesystem::exists(outcome.outputDir / "run.log"));
  auto row = store.findRun(outcome.runId);
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->configHash, job.configHash);
  EXPECT_EQ(row->seed, 0);
  SQLite::Statement q(store.db(), "SELECT env_json, hw_json, config_json FROM runs WHERE id=?");
  q.bind(1, outcome.runId);
  ASSERT_TRUE(q.executeStep());
  EXPECT_NE(q.getColumn(0).getString().find("libtorch"), std::string::npos);
  EXPECT_NE(q.getColumn(1).getString().find("\"device\""), std::string::npos);
  EXPECT_NE(q.getColumn(2).getString().find("\"sparsity\":0.5"), std::string::npos);
}

TEST_F(RunnerTest, SameConfigAndSeedGiveSameMasksAndMetrics) {
  store::RunStore store(":memory:");
  Runner runner(registries_, store, {":memory:", PRUNELAB_SOURCE_DIR, false, {}});
  // Separate caches: the model is trained twice, so training is covered too.
  auto a = runner.run(prepareJob(composer_, overrides({"pruner=global_magnitude", "seed=3"}, "cacheA"), registries_));
  auto b = runner.run(prepareJob(composer_, overrides({"pruner=global_magnitude", "seed=3"}, "cacheB"), registries_));
  ASSERT_EQ(a.status, store::RunStatus::Finished) << a.error;
  ASSERT_EQ(b.status, store::RunStatus::Finished) << b.error;
  auto la = store.layers(a.runId), lb = store.layers(b.runId);
  ASSERT_EQ(la.size(), lb.size());
  for (std::size_t i = 0; i < la.size(); ++i) EXPECT_EQ(la[i].maskSha256, lb[i].maskSha256) << la[i].name;
  EXPECT_EQ(testing::withoutTimes(store.metrics(a.runId)), testing::withoutTimes(store.metrics(b.runId)));
  // A different seed trains different weights, hence other masks.
  auto c = runner.run(prepareJob(composer_, overrides({"pruner=global_magnitude", "seed=4"}, "cacheC"), registries_));
  ASSERT_EQ(c.status, store::RunStatus::Finished) << c.error;
  EXPECT_NE(store.layers(c.runId)[0].maskSha256, la[0].maskSha256);
}

TEST_F(RunnerTest, ThrowingJobIsFailedWithItsMessageAndTheNextRuns) {
  store::RunStore store(":memory:");
  Runner runner(registries_, store, {":memory:", PRUNELAB_SOURCE_DIR, false, {}});
  auto bad = runner.run(prepareJob(composer_, overrides({"pruner=none", "pruner.type=throwing"}), registries_));
  EXPECT_EQ(bad.status, store::RunStatus::Failed);
  EXPECT_NE(bad.error.find("deliberate failure"), std::string::npos);
  auto good = runner.run(prepareJob(composer_, overrides({}), registries_));
  EXPECT_EQ(good.status, store::RunStatus::Finished) << good.error;
  EXPECT_EQ(store.findRun(bad.runId)->status, "FAILED");
  EXPECT_EQ(store.findRun(bad.runId)->error.find("deliberate failure") != std::string::npos, true);
  EXPECT_EQ(store.integrityCheck(), "ok");
}

TEST_F(RunnerTest, InvalidConfigFailsBeforeAnythingRuns) {
  try {
    prepareJob(composer_, overrides({"pruner.allocation=globl"}), registries_);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'global'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(prepareJob(composer_, overrides({"pruner.sparsity=1.5"}), registries_), Error);
  EXPECT_THROW(prepareJob(composer_, overrides({"+model.depth=3"}), registries_), Error);  // unknown option key
  EXPECT_THROW(prepareJob(composer_, overrides({"seed=abc"}), registries_), Error);
}

TEST_F(RunnerTest, ConfigHashIgnoresOutputRootButNotValues) {
  auto a = prepareJob(composer_, overrides({"output_root=/tmp/a"}), registries_);
  auto b = prepareJob(composer_, overrides({"output_root=/tmp/b"}), registries_);
  auto c = prepareJob(composer_, overrides({"pruner.sparsity=0.3"}), registries_);
  EXPECT_EQ(a.configHash, b.configHash);
  EXPECT_NE(a.configHash, c.configHash);
  // Spelling a default explicitly does not change the hash (defaults are filled before hashing).
  auto d = prepareJob(composer_, overrides({"pruner.allocation=uniform"}), registries_);
  EXPECT_EQ(a.configHash, d.configHash);
}

TEST_F(RunnerTest, PruningStagesStoreTimeAndAMemorySplit) {
  store::RunStore store(":memory:");
  Runner runner(registries_, store, {":memory:", PRUNELAB_SOURCE_DIR, false, {}});
  auto job = prepareJob(composer_, overrides({"pruner=wanda", "pruner.nsamples=64"}), registries_);
  auto outcome = runner.run(job);
  ASSERT_EQ(outcome.status, store::RunStatus::Finished) << outcome.error;
  auto m = store.metrics(outcome.runId);
  const double weights = 4.0 * m["model/all/all/params"];  // fp32
  for (const std::string stage : {"prune", "calibrate", "fine"}) {
    const std::string p = "memory/" + stage + "/";
    ASSERT_TRUE(m.count(p + "peak_bytes")) << stage;
    EXPECT_TRUE(m.count("time/" + stage + "/seconds")) << stage;
    EXPECT_EQ(m[p + "weights_bytes"], weights) << stage;
    double parts = m[p + "weights_bytes"];
    for (const std::string c : {"activations", "gradients", "scores", "statistics", "other"}) {
      ASSERT_TRUE(m.count(p + c + "_bytes")) << p + c;
      EXPECT_GE(m[p + c + "_bytes"], 0.0) << p + c;
      parts += m[p + c + "_bytes"];
    }
    EXPECT_EQ(parts, m[p + "peak_bytes"]) << stage << ": the split adds up to the peak";
  }
  // 64 calibration images of 784 floats are alive through the fine step; Wanda keeps one norm per
  // input feature of the matrix being observed; no gradient is ever taken.
  EXPECT_GE(m["memory/fine/activations_bytes"], 64.0 * 784 * 4);
  EXPECT_GT(m["memory/fine/statistics_bytes"], 0.0);
  EXPECT_EQ(m["memory/prune/gradients_bytes"], 0.0);
  EXPECT_GE(m["memory/prune/peak_bytes"], m["memory/fine/peak_bytes"]);
}

TEST(JobHelpers, SweepExtrasAreSingleJobs) {
  auto node = YAML::Load("hydra: {sweeper: {extra: [\"pruner=none\", \"pruner=wanda pruner.sparsity=0.3\"]}}");
  auto extras = configSweepExtras(node);
  ASSERT_EQ(extras.size(), 2u);
  // Reading the grid first must leave the extras in place (yaml-cpp nodes alias the tree).
  node["hydra"]["sweeper"]["params"]["seed"] = "0,1";
  EXPECT_EQ(configSweepParams(node), (std::vector<std::string>{"seed=0,1"}));
  EXPECT_EQ(configSweepExtras(node).size(), 2u);
  EXPECT_EQ(extras[0], (std::vector<std::string>{"pruner=none"}));
  EXPECT_EQ(extras[1], (std::vector<std::string>{"pruner=wanda", "pruner.sparsity=0.3"}));
  EXPECT_TRUE(configSweepExtras(YAML::Load("a: 1")).empty());
  try {
    configSweepExtras(YAML::Load("hydra: {sweeper: {extra: [\"pruner.sparsity=0.3,0.5\"]}}"));
    FAIL() << "a sweep inside an extra job must be rejected";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("hydra.sweeper.params"), std::string::npos) << e.what();
  }
}

TEST(JobHelpers, OverrideKeysAndSweepDetection) {
  EXPECT_EQ(overrideKey("+pruner.sparsity=0.5"), "pruner.sparsity");
  EXPECT_EQ(overrideKey("~a.b"), "a.b");
  EXPECT_EQ(overrideKey("++x=1"), "x");
  EXPECT_TRUE(isSweepOverride("a=1,2"));
  EXPECT_TRUE(isSweepOverride("a=range(0,3)"));
  EXPECT_FALSE(isSweepOverride("a=1"));
  EXPECT_FALSE(isSweepOverride("a=[1,2]"));
}

}  // namespace
}  // namespace prunelab::run
