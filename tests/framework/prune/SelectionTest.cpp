#include <gtest/gtest.h>

#include <torch/torch.h>

#include "framework/core/Error.h"
#include "framework/prune/Selection.h"
#include "framework/prune/Targets.h"

namespace prunelab::prune {
namespace {

TEST(Selection, PerMatrixThresholdPrunesTiesLikeTheReference) {
  // sorted = [0.1, 0.2, 0.2, 0.2, 0.5, 0.9]; s = 0.5 -> k = int(6*0.5) = 3, thresh = sorted[3] = 0.2,
  // prune every score <= 0.2: four weights go (three ties included), as prune_magnitude does.
  auto scores = torch::tensor({0.2f, 0.9f, 0.1f, 0.2f, 0.5f, 0.2f}).reshape({2, 3});
  auto keep = perMatrixThresholdMask(scores, 0.5);
  auto expected = torch::tensor({false, true, false, false, true, false}).reshape({2, 3});
  EXPECT_TRUE(torch::equal(keep, expected)) << keep;
  EXPECT_NEAR(maskSparsity(keep), 4.0 / 6.0, 1e-12);
}

TEST(Selection, SparsityZeroKeepsEverythingAndBadInputIsAnError) {
  auto scores = torch::rand({4, 4});
  EXPECT_TRUE(perMatrixThresholdMask(scores, 0.0).all().item<bool>());
  EXPECT_THROW(perMatrixThresholdMask(scores, 1.0), Error);
  EXPECT_THROW(perMatrixThresholdMask(scores, -0.1), Error);
  auto withNan = scores.clone();
  withNan[0][0] = std::nanf("");
  EXPECT_THROW(perMatrixThresholdMask(withNan, 0.5), Error);
}

TEST(Selection, SortableKeyPreservesOrder) {
  std::vector<float> v = {-3.5f, -1.0f, -0.0f, 0.0f, 1e-30f, 0.5f, 2.0f, 1e30f};
  for (std::size_t i = 0; i + 1 < v.size(); ++i) EXPECT_LE(sortableKey(v[i]), sortableKey(v[i + 1])) << i;
  EXPECT_LT(sortableKey(-1.0f), sortableKey(1.0f));
}

ScoreSource source(const std::string& name, torch::Tensor t) {
  auto flat = t.reshape({-1}).contiguous();
  return {name, flat.numel(), [flat](std::int64_t b, std::int64_t e) { return flat.slice(0, b, e); }};
}

TEST(Selection, GlobalThresholdEqualsTheSortedKthValue) {
  torch::manual_seed(3);
  std::vector<torch::Tensor> layers = {torch::rand({37, 11}), torch::rand({5, 64}), torch::rand({100})};
  std::vector<ScoreSource> sources;
  for (std::size_t i = 0; i < layers.size(); ++i) sources.push_back(source("l" + std::to_string(i), layers[i]));
  auto all = torch::cat({layers[0].reshape({-1}), layers[1].reshape({-1}), layers[2]});
  for (double s : {0.1, 0.5, 0.77}) {
    // Small chunks force several chunks per group.
    auto th = findGlobalThreshold(sources, s, /*chunkSize=*/50);
    const auto k = static_cast<std::int64_t>(std::llround(s * all.numel()));
    EXPECT_EQ(th.toPrune, k);
    const float expected = std::get<0>(all.sort())[k - 1].item<float>();
    EXPECT_EQ(th.value, expected) << s;
    std::int64_t ties = th.tiesToPrune, pruned = 0;
    for (auto& src : sources) pruned += (~globalThresholdMask(src, th, ties, 50)).sum().item<std::int64_t>();
    EXPECT_EQ(pruned, k) << s;  // exactly round(s·total), ties included
  }
}

TEST(Selection, GlobalTiesArePrunedInGroupThenIndexOrder) {
  // All scores equal: k = round(0.5*8) = 4 ties, taken from the first group first.
  std::vector<ScoreSource> sources = {source("a", torch::ones({3})), source("b", torch::ones({5}))};
  auto th = findGlobalThreshold(sources, 0.5);
  EXPECT_EQ(th.countBelow, 0);
  EXPECT_EQ(th.tiesToPrune, 4);
  std::int64_t ties = th.tiesToPrune;
  auto a = globalThresholdMask(sources[0], th, ties);
  auto b = globalThresholdMask(sources[1], th, ties);
  EXPECT_TRUE(torch::equal(a, torch::tensor({false, false, false})));
  EXPECT_TRUE(torch::equal(b, torch::tensor({false, true, true, true, true})));
}

TEST(Selection, GlobalRejectsNonFiniteScores) {
  auto t = torch::rand({10});
  t[3] = std::numeric_limits<float>::infinity();
  EXPECT_THROW(findGlobalThreshold({source("bad", t)}, 0.5), Error);
}

TEST(Targets, GlobSelectionAndNoMatchError) {
  std::vector<model::LinearRef> linears = {{"vision.blocks.0.fc", "vision", "vision", 0, nullptr},
                                           {"vision.blocks.1.fc", "vision", "vision", 1, nullptr},
                                           {"head", "head", "vision", -1, nullptr}};
  auto picked = selectTargets(linears, {"*.blocks.*"});
  ASSERT_EQ(picked.size(), 2u);
  EXPECT_EQ(picked[1].name, "vision.blocks.1.fc");
  EXPECT_EQ(selectTargets(linears, {"*"}, {"head"}).size(), 2u);
  try {
    selectTargets(linears, {"language.blocks.*"});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("matches no linear"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace prunelab::prune
