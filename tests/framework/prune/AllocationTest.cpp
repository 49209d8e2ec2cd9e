#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "framework/core/Error.h"
#include "framework/prune/Allocation.h"
#include "tests/support/Assertions.h"

namespace prunelab::prune {
namespace {

using prunelab::testing::errorOf;

AllocationGroup group(const std::string& name, std::int64_t numel, double score, const std::string& modality = "vision",
                      double outlier = 0) {
  return {name, modality, numel, score, outlier};
}

std::vector<AllocationGroup> owlGroups(const std::vector<double>& ratios, std::int64_t numel = 100) {
  std::vector<AllocationGroup> g;
  for (std::size_t i = 0; i < ratios.size(); ++i)
    g.push_back(group("b" + std::to_string(i), numel, 0, "language", ratios[i]));
  return g;
}

// ---------------------------------------------------------------------------------------------
// ECoFLaP

TEST(Allocation, EcoflapThreeBlockHandComputed) {
  // n = [50, 200, 350], S = [8, 1, 2], s = 0.5, s_max = 0.6 (default s + 0.1).
  // N = 600, budget = ⌊600·0.5⌋ = 300.
  // Minimum keep ⌈n·0.4⌉ = [20, 80, 140], Σ = 240.
  // Pass 1: R = 60, ΣS = 11: ⌈60·8/11⌉ = ⌈43.64⌉ = 44, ⌈60/11⌉ = ⌈5.45⌉ = 6, ⌈120/11⌉ = ⌈10.91⌉ = 11
  //   → keep [64, 86, 151]; block 0 is full (64 >= 50): capped at 50, its score leaves → Σ = 287.
  // Pass 2: R = 13, ΣS = 3: ⌈13/3⌉ = ⌈4.33⌉ = 5, ⌈26/3⌉ = ⌈8.67⌉ = 9 → keep [50, 91, 160], Σ = 301.
  //   Overshoot 1: taken from the group keeping most (block 2, 160 > its minimum 140) → 159.
  // Final keep [50, 91, 159]: sparsity [0, 1 − 91/200, 1 − 159/350] = [0, 0.545, 0.545714…],
  // overall (0 + 109 + 191)/600 = 0.5 exactly. (The reference's `+=` would keep 302: 0.49667.)
  std::vector<AllocationGroup> g = {group("blocks.0", 50, 8), group("blocks.1", 200, 1), group("blocks.2", 350, 2)};
  auto a = allocateEcoflap(g, 0.5);
  EXPECT_EQ(a.keep, (std::vector<std::int64_t>{50, 91, 159}));
  ASSERT_EQ(a.sparsity.size(), 3u);
  EXPECT_DOUBLE_EQ(a.sparsity[0], 0.0);
  EXPECT_DOUBLE_EQ(a.sparsity[1], 1.0 - 91.0 / 200.0);
  EXPECT_DOUBLE_EQ(a.sparsity[2], 1.0 - 159.0 / 350.0);
  EXPECT_DOUBLE_EQ(a.achieved, 0.5);
  EXPECT_EQ(a.iterations, 2);
  for (double s : a.sparsity) EXPECT_LE(s, 0.6);
}

TEST(Allocation, EcoflapOvershootIsTakenBackAboveTheCeilMinimum) {
  // n = [1001, 100, 100, 100], S = [0, 1, 1, 2], s = 0.5, s_max = 0.6.
  // N = 1301, budget = ⌊650.5⌋ = 650; minimum ⌈n·0.4⌉ = [⌈400.4⌉ = 401, 40, 40, 40], Σ = 521.
  // Pass 1: R = 129, ΣS = 4: shares [0, ⌈32.25⌉ = 33, 33, ⌈64.5⌉ = 65] → [401, 73, 73, 105];
  //   group 3 is full → 100, Σ = 647.
  // Pass 2: R = 3, ΣS = 2: [0, ⌈1.5⌉ = 2, 2, 0] → [401, 75, 75, 100], Σ = 651, overshoot 1.
  //   Take-back order by keep, descending: group 0 (401) is at its minimum ⌈400.4⌉ and gives
  //   nothing (the reference's floor int(400.4) = 400 would take one: sparsity 0.6004 > s_max);
  //   group 3 (100) gives 1 → 99.
  std::vector<AllocationGroup> g = {group("g0", 1001, 0), group("g1", 100, 1), group("g2", 100, 1),
                                    group("g3", 100, 2)};
  auto a = allocateEcoflap(g, 0.5, 0.6);
  EXPECT_EQ(a.keep, (std::vector<std::int64_t>{401, 75, 75, 99}));
  EXPECT_EQ(a.iterations, 2);
  EXPECT_LE(a.sparsity[0], 0.6);
  EXPECT_DOUBLE_EQ(a.sparsity[0], 1.0 - 401.0 / 1001.0);
  EXPECT_NEAR(a.sparsity[3], 0.01, 1e-15);
  EXPECT_DOUBLE_EQ(a.achieved, 1.0 - 650.0 / 1301.0);
}

TEST(Allocation, EcoflapWithoutSaturationIsMinimumPlusProportionalShare) {
  // n = [100, 200, 300], S = [6, 3, 1], s = 0.5, s_max = 0.6: budget 300, minimum [40, 80, 120],
  // R = 60 → shares exactly [36, 18, 6] → keep [76, 98, 126], one pass, no rounding.
  std::vector<AllocationGroup> g = {group("a", 100, 6), group("b", 200, 3), group("c", 300, 1)};
  auto a = allocateEcoflap(g, 0.5);
  EXPECT_EQ(a.keep, (std::vector<std::int64_t>{76, 98, 126}));
  EXPECT_EQ(a.iterations, 1);
  EXPECT_DOUBLE_EQ(a.sparsity[0], 0.24);
  EXPECT_DOUBLE_EQ(a.sparsity[1], 0.51);
  EXPECT_DOUBLE_EQ(a.sparsity[2], 0.58);
}

TEST(Allocation, EcoflapEqualScoresAndSizesGiveUniform) {
  std::vector<AllocationGroup> g = {group("a", 1000, 2), group("b", 1000, 2), group("c", 1000, 2)};
  auto a = allocateEcoflap(g, 0.4);
  for (double s : a.sparsity) EXPECT_NEAR(s, 0.4, 1e-12);
}

TEST(Allocation, EcoflapZeroScoreGroupsGetTheRestInOrderOnceScoredGroupsAreFull) {
  // n = [10, 1000], S = [1, 0], s = 0.5: budget ⌊505⌋ = 505, minimum [4, 400].
  // Pass 1: R = 101, all to group 0 → 105, capped at 10, Σ = 410.
  // Pass 2: no score left (the reference divides 0 by 0 here): fill in group order → group 1 += 95.
  std::vector<AllocationGroup> g = {group("a", 10, 1), group("b", 1000, 0)};
  auto a = allocateEcoflap(g, 0.5);
  EXPECT_EQ(a.keep, (std::vector<std::int64_t>{10, 495}));
  EXPECT_EQ(a.iterations, 2);
  EXPECT_DOUBLE_EQ(a.achieved, 1.0 - 505.0 / 1010.0);
}

TEST(Allocation, EcoflapMinimumKeepSnapsFloatingPointNoise) {
  // 100·(1 − 0.7) = 30.000000000000004 in doubles; the minimum is 30, so the zero-score group
  // sits exactly at s_max = 0.7 and group 0 takes the whole rest: budget ⌊200·0.35⌋ = 70 → [40, 30].
  std::vector<AllocationGroup> g = {group("a", 100, 1), group("b", 100, 0)};
  auto a = allocateEcoflap(g, 0.65, 0.7);
  EXPECT_EQ(a.keep, (std::vector<std::int64_t>{40, 30}));
  EXPECT_NEAR(a.sparsity[1], 0.7, 1e-15);
}

TEST(Allocation, EcoflapMinimaAboveTheBudgetKeepTheMinima) {
  // s_max = s: ⌈3·0.5⌉ = 2 per group, Σ = 6 > budget ⌊4.5⌋ = 4. s_max is a hard cap, so the minima
  // stay (at most one weight per group above the budget) and no pass runs.
  std::vector<AllocationGroup> g = {group("a", 3, 1), group("b", 3, 5), group("c", 3, 2)};
  auto a = allocateEcoflap(g, 0.5, 0.5);
  EXPECT_EQ(a.keep, (std::vector<std::int64_t>{2, 2, 2}));
  EXPECT_EQ(a.iterations, 0);
  for (double s : a.sparsity) EXPECT_LE(s, 0.5);
}

TEST(Allocation, EcoflapSparsityZeroKeepsEverything) {
  std::vector<AllocationGroup> g = {group("a", 7, 1), group("b", 13, 0), group("c", 1, 4)};
  auto a = allocateEcoflap(g, 0.0);
  for (double s : a.sparsity) EXPECT_EQ(s, 0.0);
  EXPECT_EQ(a.achieved, 0.0);
}

TEST(Allocation, EcoflapDefaultMaxSparsityIsCappedAtOne) {
  std::vector<AllocationGroup> g = {group("a", 100, 1), group("b", 100, 9)};
  auto a = allocateEcoflap(g, 0.95);  // s_max = min(1.05, 1) = 1
  EXPECT_NEAR(a.achieved, 0.95, 1e-12);
  EXPECT_GE(a.sparsity[0], a.sparsity[1]);
}

// Property test: over random groups, the budget is met exactly whenever the minima fit, no group
// exceeds s_max, and the overall sparsity equals the target up to one weight of rounding.
TEST(Allocation, EcoflapBudgetAndCapHoldOnRandomCases) {
  for (unsigned seed = 0; seed < 300; ++seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    const int G = 1 + static_cast<int>(rng() % 60);
    const bool tiny = seed % 3 == 0;  // groups of a few weights stress every rounding path
    std::vector<AllocationGroup> g;
    double scoreSum = 0;
    for (int i = 0; i < G; ++i) {
      const std::int64_t n = 1 + static_cast<std::int64_t>(rng() % (tiny ? 20 : 1000000));
      double score = u(rng) < 0.2 ? 0.0 : std::pow(10.0, 6 * u(rng) - 3);
      if (i == G - 1 && scoreSum == 0 && score == 0) score = 1.0;
      scoreSum += score;
      g.push_back(group("g" + std::to_string(i), n, score));
    }
    const double s = 0.95 * u(rng);
    std::optional<double> sMax;
    if (seed % 2 == 1) sMax = s + (1.0 - s) * u(rng);
    const double cap = sMax.value_or(std::min(s + 0.1, 1.0));
    SCOPED_TRACE(::testing::Message() << "seed " << seed << " G " << G << " s " << s << " s_max " << cap);

    auto a = allocateEcoflap(g, s, sMax);
    ASSERT_EQ(a.sparsity.size(), g.size());
    ASSERT_EQ(a.keep.size(), g.size());
    std::int64_t N = 0, kept = 0, minima = 0;
    for (std::size_t i = 0; i < g.size(); ++i) {
      N += g[i].numel;
      kept += a.keep[i];
      minima += static_cast<std::int64_t>(std::ceil(static_cast<long double>(g[i].numel) * (1.0L - cap) - 1e-6L));
      EXPECT_GE(a.keep[i], 0);
      EXPECT_LE(a.keep[i], g[i].numel);
      EXPECT_LE(a.sparsity[i], cap + 1e-12) << g[i].name;
      EXPECT_DOUBLE_EQ(a.sparsity[i], 1.0 - static_cast<double>(a.keep[i]) / static_cast<double>(g[i].numel));
    }
    const auto budget = static_cast<std::int64_t>(std::floor(static_cast<long double>(N) * (1.0L - s) + 1e-6L));
    if (minima <= budget) {
      EXPECT_EQ(kept, budget);
      EXPECT_LE(a.iterations, G + 1);
      EXPECT_NEAR(a.achieved, s, 1.0 / static_cast<double>(N) + 1e-12);
    } else {
      EXPECT_EQ(kept, minima);
      EXPECT_LE(kept - budget, G);  // < 1 per ceil, < 1 for the budget's floor
    }
    EXPECT_NEAR(a.achieved, weightedSparsity(g, a.sparsity), 1e-12);
  }
}

// ---------------------------------------------------------------------------------------------
// OWL

TEST(Allocation, OwlHandComputed) {
  // D = [0, 1, 2, 3], s = 0.7, λ = 0.075 (2λ = 0.15).
  // Normalized spread: (D − 0)/(3 − 0)·0.15 = [0, 0.05, 0.10, 0.15], mean 0.075.
  // Density r = spread − 0.075 + 0.3 = [0.225, 0.275, 0.325, 0.375] → s = 1 − r = [0.775, 0.725, 0.675, 0.625].
  auto a = allocateOwl(owlGroups({0, 1, 2, 3}), 0.7, 0.075);
  ASSERT_EQ(a.sparsity.size(), 4u);
  EXPECT_NEAR(a.sparsity[0], 0.775, 1e-12);
  EXPECT_NEAR(a.sparsity[1], 0.725, 1e-12);
  EXPECT_NEAR(a.sparsity[2], 0.675, 1e-12);
  EXPECT_NEAR(a.sparsity[3], 0.625, 1e-12);
  EXPECT_NEAR(a.achieved, 0.7, 1e-12);
  EXPECT_EQ(a.iterations, 0);
  // The scale of D does not matter (the reference's percentages give the same sparsities).
  auto pct = allocateOwl(owlGroups({0, 100, 200, 300}), 0.7, 0.075);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(pct.sparsity[i], a.sparsity[i], 1e-12);
}

TEST(Allocation, OwlFloorsNonPositiveSparsityAtOnePercent) {
  // D = [0, 1, 2, 3], s = 0.1, λ = 0.5 (2λ = 1): spread [0, 1/3, 2/3, 1], mean 0.5,
  // r = spread − 0.5 + 0.9 = [0.4, 0.7333, 1.0667, 1.4] → s = [0.6, 0.2667, −0.0667 → 0.01, −0.4 → 0.01].
  auto a = allocateOwl(owlGroups({0, 1, 2, 3}), 0.1, 0.5);
  EXPECT_NEAR(a.sparsity[0], 0.6, 1e-12);
  EXPECT_NEAR(a.sparsity[1], 1.0 - (1.0 / 3.0 + 0.4), 1e-12);
  EXPECT_DOUBLE_EQ(a.sparsity[2], 0.01);
  EXPECT_DOUBLE_EQ(a.sparsity[3], 0.01);
}

TEST(Allocation, OwlNumelWeightedCentreMeetsTheTargetForUnequalGroups) {
  // n = [100, 300], D = [0, 1], s = 0.5, λ = 0.1: spread [0, 0.2].
  // Unweighted centre 0.1 → s = [0.6, 0.4], overall (60 + 120)/400 = 0.45 (reference).
  // Weighted centre (0·100 + 0.2·300)/400 = 0.15 → s = [0.65, 0.45], overall (65 + 135)/400 = 0.5.
  std::vector<AllocationGroup> g = {group("v", 100, 0, "vision", 0.0), group("l", 300, 0, "language", 1.0)};
  auto ref = allocateOwl(g, 0.5, 0.1);
  EXPECT_NEAR(ref.sparsity[0], 0.6, 1e-12);
  EXPECT_NEAR(ref.sparsity[1], 0.4, 1e-12);
  EXPECT_NEAR(ref.achieved, 0.45, 1e-12);
  auto w = allocateOwl(g, 0.5, 0.1, /*numelWeightedMean=*/true);
  EXPECT_NEAR(w.sparsity[0], 0.65, 1e-12);
  EXPECT_NEAR(w.sparsity[1], 0.45, 1e-12);
  EXPECT_NEAR(w.achieved, 0.5, 1e-12);
}

TEST(Allocation, OwlEqualRatiosGiveUniform) {
  auto a = allocateOwl(owlGroups({0.02, 0.02, 0.02}), 0.6, 0.08);
  for (double s : a.sparsity) EXPECT_NEAR(s, 0.6, 1e-12);
}

TEST(Allocation, OutlierRatioCountsStrictlyAboveMTimesMean) {
  // Nine 1s and one 11: mean 2. M = 3 → threshold 6 → one outlier of ten. M = 5.5 → threshold 11,
  // and 11 is not strictly above it.
  std::vector<float> scores = {1, 1, 1, 1, 1, 1, 1, 1, 1, 11};
  EXPECT_DOUBLE_EQ(outlierRatio(scores, 3.0), 0.1);
  EXPECT_DOUBLE_EQ(outlierRatio(scores, 5.5), 0.0);
  // The same block given as two matrices, without concatenating them.
  std::vector<float> a(scores.begin(), scores.begin() + 4), b(scores.begin() + 4, scores.end());
  EXPECT_DOUBLE_EQ(outlierRatio({{a.data(), 4}, {b.data(), 6}}, 3.0), 0.1);
}

// ---------------------------------------------------------------------------------------------
// Uniform, per_module, grouping

TEST(Allocation, UniformAndPerModule) {
  std::vector<AllocationGroup> g = {group("v0", 100, 0, "vision"), group("l0", 200, 0, "language"),
                                    group("l1", 100, 0, "language")};
  auto u = allocateUniform(g, 0.3);
  EXPECT_EQ(u.sparsity, (std::vector<double>{0.3, 0.3, 0.3}));
  EXPECT_NEAR(u.achieved, 0.3, 1e-12);
  auto p = allocatePerModule(g, {{"vision", 0.4}, {"language", 0.6}, {"bridge", 0.1}});
  EXPECT_EQ(p.sparsity, (std::vector<double>{0.4, 0.6, 0.6}));
  EXPECT_NEAR(p.achieved, (40.0 + 120.0 + 60.0) / 400.0, 1e-12);
}

TEST(Allocation, GroupingByBlockLayerAndModality) {
  std::vector<AllocationGroup> m = {
      group("vision.blocks.0.attn.qkv", 30, 1, "vision"), group("vision.blocks.0.mlp.fc1", 10, 3, "vision"),
      group("vision.blocks.1.attn.qkv", 40, 2, "vision"), group("language.blocks.0.attn.q", 20, 5, "language")};
  auto block = groupMatrices(m, Granularity::Block);
  ASSERT_EQ(block.groups.size(), 3u);
  EXPECT_EQ(block.groups[0].name, "vision.blocks.0");
  EXPECT_EQ(block.groups[0].numel, 40);
  EXPECT_DOUBLE_EQ(block.groups[0].score, 4.0);
  EXPECT_EQ(block.groupOf, (std::vector<std::size_t>{0, 0, 1, 2}));
  auto avg = groupMatrices(m, Granularity::Block, ScoreAggregate::Avg);
  EXPECT_DOUBLE_EQ(avg.groups[0].score, 4.0 / 40.0);
  auto layer = groupMatrices(m, Granularity::Layer);
  EXPECT_EQ(layer.groups.size(), 4u);
  auto modality = groupMatrices(m, Granularity::Modality);
  ASSERT_EQ(modality.groups.size(), 2u);
  EXPECT_EQ(modality.groups[0].numel, 80);

  Allocation a = allocateUniform(block.groups, 0.5);
  a.sparsity = {0.1, 0.2, 0.3};
  EXPECT_EQ(matrixSparsities(block, a), (std::vector<double>{0.1, 0.1, 0.2, 0.3}));

  // The reference's own names cut at the same place as its 3-/4-part rule.
  EXPECT_EQ(groupKey("t5_model.encoder.block.7.layer.0.SelfAttention.q", "language", Granularity::Block),
            "t5_model.encoder.block.7");
  EXPECT_EQ(groupKey("visual_encoder.blocks.38.attn.qkv", "vision", Granularity::Block), "visual_encoder.blocks.38");
}

// ---------------------------------------------------------------------------------------------
// Bad input

TEST(Allocation, BadSparsityAndMaxSparsityAreErrors) {
  std::vector<AllocationGroup> g = {group("a", 10, 1), group("b", 10, 2)};
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (double s : {1.0, -0.1, 1.5, nan}) {
    EXPECT_CONTAINS(errorOf([&] { allocateEcoflap(g, s); }), "sparsity must be in [0, 1)");
    EXPECT_CONTAINS(errorOf([&] { allocateUniform(g, s); }), "sparsity must be in [0, 1)");
    EXPECT_CONTAINS(errorOf([&] { allocateOwl(g, s, 0.08); }), "sparsity must be in [0, 1)");
  }
  EXPECT_CONTAINS(errorOf([&] { allocateEcoflap(g, 0.5, 0.4); }), "max sparsity 0.4 is below the target sparsity 0.5");
  EXPECT_CONTAINS(errorOf([&] { allocateEcoflap(g, 0.5, 1.2); }), "max sparsity must be at most 1");
  EXPECT_CONTAINS(errorOf([&] { allocateEcoflap(g, 0.5, nan); }), "max sparsity must be at most 1");
}

TEST(Allocation, BadScoresAreErrors) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_CONTAINS(errorOf([&] {
                    allocateEcoflap({group("a", 10, 1), group("b", 10, nan)}, 0.5);
                  }),
                  "score of group 'b' is nan: scores must be finite");
  EXPECT_CONTAINS(errorOf([&] {
                    allocateEcoflap({group("a", 10, inf), group("b", 10, 1)}, 0.5);
                  }),
                  "score of group 'a' is inf: scores must be finite");
  EXPECT_CONTAINS(errorOf([&] { allocateEcoflap({group("a", 10, -1), group("b", 10, 1)}, 0.5); }), "never negative");
  EXPECT_CONTAINS(errorOf([&] {
                    allocateEcoflap({group("a", 10, 0), group("b", 10, 0)}, 0.5);
                  }),
                  "all ECoFLaP group scores are zero");
  EXPECT_CONTAINS(errorOf([&] {
                    allocateOwl(owlGroups({0.1, nan}), 0.5, 0.08);
                  }),
                  "outlier ratio of group 'b1' is nan");
  EXPECT_CONTAINS(errorOf([&] { allocateOwl(owlGroups({0.1, -inf}), 0.5, 0.08); }), "finite fraction >= 0");
  std::vector<float> withNan = {1.0f, std::nanf(""), 2.0f};
  EXPECT_CONTAINS(errorOf([&] { outlierRatio(withNan, 3.0); }), "score nan at index 1 is not finite");
  std::vector<float> withInf = {1.0f, 2.0f, std::numeric_limits<float>::infinity()};
  EXPECT_CONTAINS(errorOf([&] { outlierRatio(withInf, 3.0); }), "at index 2 is not finite");
}

TEST(Allocation, BadGroupsAndOptionsAreErrors) {
  EXPECT_CONTAINS(errorOf([&] { allocateEcoflap({}, 0.5); }), "allocation over no groups");
  EXPECT_CONTAINS(errorOf([&] { allocateUniform({group("a", 0, 1)}, 0.5); }), "group 'a' has numel 0");
  EXPECT_CONTAINS(errorOf([&] {
                    allocateUniform({group("a", 5, 1), group("a", 5, 1)}, 0.5);
                  }),
                  "group 'a' is listed twice");
  EXPECT_CONTAINS(errorOf([&] { weightedSparsity({group("a", 5, 1)}, {0.1, 0.2}); }), "2 sparsities for 1 groups");

  std::vector<AllocationGroup> g = {group("v", 10, 0, "vision"), group("l", 10, 0, "language"),
                                    group("b", 10, 0, "bridge")};
  auto missing = errorOf([&] { allocatePerModule(g, {{"vision", 0.5}, {"langauge", 0.5}}); });
  EXPECT_CONTAINS(missing, "no per-module ratio for modality 'language', 'bridge'");
  EXPECT_CONTAINS(missing, "did you mean 'langauge'?");
  EXPECT_CONTAINS(missing, "ratios given: 'langauge', 'vision'");
  EXPECT_CONTAINS(errorOf([&] {
                    allocatePerModule(g, {{"vision", 1.0}, {"language", 0.5}, {"bridge", 0.1}});
                  }),
                  "per-module ratio for 'vision' must be in [0, 1)");

  EXPECT_CONTAINS(errorOf([&] { allocateOwl(owlGroups({0, 1}), 0.5, -0.1); }), "OWL lambda must be finite and >= 0");
  EXPECT_CONTAINS(errorOf([&] {
                    allocateOwl(owlGroups({0, 1, 2, 3}), 0.9, 0.5);
                  }),
                  "OWL gives group 'b0' sparsity 1.4000 (>= 1) at target 0.9 with lambda 0.5: lower lambda");
  std::vector<float> ok = {1, 2, 3};
  EXPECT_CONTAINS(errorOf([&] { outlierRatio(ok, 0.0); }), "OWL outlier threshold M must be finite and > 0");
  EXPECT_CONTAINS(errorOf([&] { outlierRatio(std::vector<float>{}, 3.0); }), "outlier ratio of no scores");

  EXPECT_CONTAINS(errorOf([&] { groupKey("bridge.proj", "bridge", Granularity::Block); }),
                  "cannot find a block index in 'bridge.proj'");
  EXPECT_CONTAINS(errorOf([&] {
                    groupMatrices({group("x.blocks.0.a", 5, 1, "vision"), group("x.blocks.0.b", 5, 1, "language")},
                                  Granularity::Block);
                  }),
                  "matrices of group 'x.blocks.0' have modalities 'vision' and 'language'");
}

}  // namespace
}  // namespace prunelab::prune
