#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "pruners/gradual/GradualMagnitudePruner.h"
#include "tests/pruners/TinyPruneSetup.h"
#include "tests/support/Assertions.h"

namespace prunelab::pruners {
namespace {

using prunelab::testing::errorOf;
using prunelab::testing::TinyPruneSetup;
using prunelab::testing::zerosOf;
using Options = GradualMagnitudePruner::Options;

Options smallOptions(double sparsity) {
  Options o;
  o.sparsity = sparsity;
  o.steps = 40;
  o.begin_step = 0;
  o.end_step = 30;
  o.frequency = 10;
  o.batch_size = 8;
  o.lr = 1e-2;
  o.warmup_steps = 2;
  o.log_every = 5;
  o.validate();
  return o;
}

std::vector<double> metricValues(const prune::PruneResult& r, const std::string& key, std::vector<std::int64_t>* steps) {
  std::vector<double> out;
  for (const auto& m : r.metrics)
    if (m.key == key) {
      out.push_back(m.value);
      if (steps) steps->push_back(m.step);
    }
  return out;
}

TEST(GradualMagnitudeSchedule, CubicFromInitialToFinalAndPruneStepsEveryFrequency) {
  Options o;
  o.sparsity = 0.8;
  o.initial_sparsity = 0.2;
  o.begin_step = 10;
  o.end_step = 50;
  o.frequency = 20;
  o.steps = 60;
  o.validate();
  EXPECT_DOUBLE_EQ(GradualMagnitudePruner::scheduledSparsity(o, 0), 0.2);   // before begin: s_i
  EXPECT_DOUBLE_EQ(GradualMagnitudePruner::scheduledSparsity(o, 10), 0.2);
  // p = 0.5: s_f + (s_i − s_f)·0.125
  EXPECT_DOUBLE_EQ(GradualMagnitudePruner::scheduledSparsity(o, 30), 0.8 - 0.6 * 0.125);
  EXPECT_DOUBLE_EQ(GradualMagnitudePruner::scheduledSparsity(o, 50), 0.8);
  EXPECT_DOUBLE_EQ(GradualMagnitudePruner::scheduledSparsity(o, 59), 0.8);
  std::vector<std::int64_t> pruneSteps;
  for (std::int64_t t = 0; t < o.steps; ++t)
    if (GradualMagnitudePruner::isPruneStep(o, t)) pruneSteps.push_back(t);
  EXPECT_EQ(pruneSteps, (std::vector<std::int64_t>{10, 30, 50}));
}

TEST(GradualMagnitudeSchedule, TfmotMaskKeepsTiesAndAtLeastOneWeight) {
  const auto w = torch::tensor({{0.1f, -0.2f, 0.2f}, {0.2f, -0.5f, 0.6f}});
  // k = round(6·0.5) = 3 kept; the 3rd largest |w| is 0.2, tied three times: all kept (5 in all).
  auto keep = GradualMagnitudePruner::magnitudeKeepMask(w, 0.5);
  EXPECT_TRUE(torch::equal(keep, torch::tensor({{false, true, true}, {true, true, true}})));
  // k = round(6·0.4) = 2: threshold 0.5.
  keep = GradualMagnitudePruner::magnitudeKeepMask(w, 0.6);
  EXPECT_TRUE(torch::equal(keep, torch::tensor({{false, false, false}, {false, true, true}})));
  // k = max(round(0.06), 1) = 1.
  EXPECT_EQ(GradualMagnitudePruner::magnitudeKeepMask(w, 0.99).sum().item<std::int64_t>(), 1);
  EXPECT_EQ(GradualMagnitudePruner::magnitudeKeepMask(w, 0.0).sum().item<std::int64_t>(), 6);
}

TEST(GradualMagnitudePruner, ReachesTheFinalSparsityThroughGrowingMasksWhileTraining) {
  TinyPruneSetup s(8, 2, 3);
  std::vector<torch::Tensor> before;
  for (const auto& t : s.targets()) before.push_back(t.layer->weight.detach().clone());
  GradualMagnitudePruner pruner(smallOptions(0.7));
  const auto r = pruner.prune(s.ctx);

  const auto targets = s.targets();
  ASSERT_EQ(r.layers.size(), targets.size());
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const auto n = targets[i].layer->weight.numel();
    // Continuous weights have no ties: exactly round(n·0.3) kept.
    EXPECT_EQ(n - zerosOf(targets[i]), std::llround(static_cast<double>(n) * 0.3)) << targets[i].name;
    EXPECT_NEAR(r.layers[i].achievedSparsity, 1.0 - std::llround(static_cast<double>(n) * 0.3) / double(n), 1e-12);
    EXPECT_DOUBLE_EQ(r.layers[i].targetSparsity, 0.7);
    // The kept weights were trained, not just masked.
    const auto w = targets[i].layer->weight.detach();
    const auto kept = w != 0;
    EXPECT_FALSE(torch::allclose(w.masked_select(kept), before[i].masked_select(kept)));
  }
  // Prune steps 0, 10, 20, 30 on the cubic schedule; the achieved sparsity only rises.
  std::vector<std::int64_t> steps;
  const auto scheduled = metricValues(r, "prune/gradual/scheduled_sparsity", &steps);
  EXPECT_EQ(steps, (std::vector<std::int64_t>{0, 10, 20, 30}));
  ASSERT_EQ(scheduled.size(), 4u);
  EXPECT_DOUBLE_EQ(scheduled[0], 0.0);
  EXPECT_NEAR(scheduled[1], 0.7 - 0.7 * std::pow(2.0 / 3.0, 3), 1e-12);
  EXPECT_DOUBLE_EQ(scheduled[3], 0.7);
  const auto achieved = metricValues(r, "prune/gradual/achieved_sparsity", nullptr);
  ASSERT_EQ(achieved.size(), 4u);
  for (std::size_t i = 1; i < achieved.size(); ++i) EXPECT_GT(achieved[i], achieved[i - 1]);
  EXPECT_EQ(metricValues(r, "prune/gradual/loss", nullptr).size(), 8u);  // 40 steps / log_every 5
}

TEST(GradualMagnitudePruner, SameSeedGivesTheSameWeightsAndAnotherSeedOtherBatches) {
  auto run = [](std::int64_t seed) {
    TinyPruneSetup s(8, 2, 3);
    s.ctx.seed = seed;
    GradualMagnitudePruner(smallOptions(0.5)).prune(s.ctx);
    std::vector<torch::Tensor> w;
    for (const auto& t : s.targets()) w.push_back(t.layer->weight.detach().clone());
    return w;
  };
  const auto a = run(0), b = run(0), c = run(1);
  bool differ = false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(torch::equal(a[i], b[i]));
    differ = differ || !torch::equal(a[i], c[i]);
  }
  EXPECT_TRUE(differ);
}

TEST(GradualMagnitudePruner, FinalSparsityZeroOnlyFineTunesAndLowersTheLoss) {
  TinyPruneSetup s(8, 2, 3);
  const auto r = GradualMagnitudePruner(smallOptions(0.0)).prune(s.ctx);
  for (const auto& t : s.targets()) EXPECT_EQ(zerosOf(t), 0) << t.name;
  const auto losses = metricValues(r, "prune/gradual/loss", nullptr);
  ASSERT_GE(losses.size(), 2u);
  EXPECT_LT(losses.back(), losses.front());
}

TEST(GradualMagnitudePruner, NmPatternEndsAtTwoOfEveryFourInputs) {
  TinyPruneSetup s(8, 2, 3);
  auto o = smallOptions(0.5);
  o.pattern = "nm";
  o.nm = {2, 4};
  o.validate();
  const auto r = GradualMagnitudePruner(o).prune(s.ctx);
  for (const auto& t : s.targets()) {
    const auto w = t.layer->weight.detach();
    const auto zerosPerGroup = (w == 0).reshape({w.size(0), w.size(1) / 4, 4}).sum(-1);
    EXPECT_TRUE(zerosPerGroup.eq(2).all().item<bool>()) << t.name;
  }
  // floor(s_t·4) pruned per group: 0 at step 0 (no mask), 1 at steps 10 and 20, 2 at step 30.
  const auto achieved = metricValues(r, "prune/gradual/achieved_sparsity", nullptr);
  EXPECT_EQ(achieved, (std::vector<double>{0.25, 0.25, 0.5}));
}

TEST(GradualMagnitudePruner, BadSchedulesAreRejectedWithTheFix) {
  Options o;
  o.end_step = 205;
  EXPECT_CONTAINS(errorOf([&] { o.validate(); }), "not a multiple of frequency 20");
  o = Options();
  o.end_step = 300;
  EXPECT_CONTAINS(errorOf([&] { o.validate(); }), "must be below steps");
  o = Options();
  o.pattern = "unstructred";
  EXPECT_CONTAINS(errorOf([&] { o.validate(); }), "did you mean 'unstructured'");
  o = Options();
  o.initial_sparsity = 0.6;
  EXPECT_CONTAINS(errorOf([&] { o.validate(); }), "initial_sparsity must be in [0, final sparsity 0.5]");
}

TEST(GradualMagnitudePruner, UnknownSplitFailsBeforeTraining) {
  TinyPruneSetup s(8, 2, 3);
  auto o = smallOptions(0.5);
  o.split = "vqa_train";
  EXPECT_CONTAINS(errorOf([&] { GradualMagnitudePruner(o).prune(s.ctx); }), "only the split 'train'");
  for (const auto& t : s.targets()) EXPECT_EQ(zerosOf(t), 0);
}

}  // namespace
}  // namespace prunelab::pruners
