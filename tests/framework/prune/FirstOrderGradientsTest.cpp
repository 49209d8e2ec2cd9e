#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include "framework/profile/MemoryTracker.h"
#include "framework/prune/CoarseScores.h"
#include "tests/support/TinyBlockModel.h"

namespace prunelab::prune {
namespace {

using profile::MemoryCategory;
using profile::MemoryTracker;
using prunelab::testing::randomBatches;
using prunelab::testing::TinyBlockModel;

std::int64_t bytesOf(MemoryCategory c, const profile::CategoryBytes& bytes) {
  return bytes[static_cast<std::size_t>(c)];
}

// Per element, against the plain backward() and .grad of every batch, averaged.
TEST(FirstOrderGradients, PerElementMeansEqualAutogradsGradientMeans) {
  TinyBlockModel m(3, 2, 4);
  const auto batches = randomBatches(3, 5, 3, 9);
  const auto targets = m.linears();
  const auto got = firstOrderGradients(m, batches, targets, {/*meanAbs=*/true, /*meanSq=*/true});

  std::vector<torch::Tensor> sumAbs(targets.size()), sumSq(targets.size());
  for (const auto& b : batches) {
    for (auto& p : m.module().parameters()) p.mutable_grad() = torch::Tensor();
    m.loss(b).backward();
    for (std::size_t i = 0; i < targets.size(); ++i) {
      const auto g = targets[i].layer->weight.grad().clone();
      sumAbs[i] = sumAbs[i].defined() ? sumAbs[i] + g.abs() : g.abs();
      sumSq[i] = sumSq[i].defined() ? sumSq[i] + g * g : g * g;
    }
  }
  for (auto& p : m.module().parameters()) p.mutable_grad() = torch::Tensor();
  ASSERT_EQ(got.meanAbs.size(), targets.size());
  for (std::size_t i = 0; i < targets.size(); ++i) {
    ASSERT_EQ(got.meanAbs[i].sizes(), targets[i].layer->weight.sizes()) << targets[i].name;
    EXPECT_EQ(got.meanAbs[i].scalar_type(), torch::kFloat);
    EXPECT_TRUE(torch::allclose(got.meanAbs[i], sumAbs[i] / 3.0, 1e-6, 0)) << targets[i].name;
    EXPECT_TRUE(torch::allclose(got.meanSq[i], sumSq[i] / 3.0, 1e-6, 0)) << targets[i].name;
    EXPECT_GT(got.meanAbs[i].min().item<float>(), 0.0f) << targets[i].name << ": every weight feeds the loss";
  }
}

TEST(FirstOrderGradients, OnlyTheRequestedStatisticsAreKept) {
  TinyBlockModel m(3, 1, 5);
  const auto batches = randomBatches(2, 4, 3, 1);
  const auto targets = m.linears();
  const auto absOnly = firstOrderGradients(m, batches, targets, {true, false});
  const auto sqOnly = firstOrderGradients(m, batches, targets, {false, true});
  for (std::size_t i = 0; i < targets.size(); ++i) {
    EXPECT_TRUE(absOnly.meanAbs[i].defined());
    EXPECT_FALSE(absOnly.meanSq[i].defined());
    EXPECT_FALSE(sqOnly.meanAbs[i].defined());
    EXPECT_TRUE(sqOnly.meanSq[i].defined());
    EXPECT_DOUBLE_EQ(absOnly.gradNorm[i], sqOnly.gradNorm[i]);
  }
  // The scalar reduction asked for mean|g| only (ECoFLaP's coarse step) agrees with the full one.
  const auto gradientOnly = firstOrderScores(m, batches, targets, {true, false});
  const auto both = firstOrderScores(m, batches, targets);
  EXPECT_TRUE(gradientOnly.fisher.empty());
  ASSERT_EQ(both.fisher.size(), targets.size());
  EXPECT_EQ(gradientOnly.gradient, both.gradient);
}

// What stays alive after the call is the accumulators, tagged Scores; the forward (Activations)
// and backward (Gradients) allocations are all released, and the call's peak saw both tagged.
TEST(FirstOrderGradients, AccumulatorsAreTaggedScoresAndNothingElseStays) {
  MemoryTracker::install();
  TinyBlockModel m(4, 2, 6);
  const auto batches = randomBatches(3, 4, 4, 2);
  const auto targets = m.linears();
  std::int64_t weights = 0;
  for (const auto& t : targets) weights += t.layer->weight.numel();

  const auto before = MemoryTracker::currentByCategory();
  MemoryTracker::resetPeak();
  {
    const auto got = firstOrderGradients(m, batches, targets, {true, false});
    const auto peak = MemoryTracker::peak();
    const auto during = MemoryTracker::currentByCategory();
    EXPECT_EQ(bytesOf(MemoryCategory::Scores, during) - bytesOf(MemoryCategory::Scores, before),
              weights * static_cast<std::int64_t>(sizeof(float)));
    EXPECT_EQ(bytesOf(MemoryCategory::Gradients, during), bytesOf(MemoryCategory::Gradients, before));
    EXPECT_EQ(bytesOf(MemoryCategory::Activations, during), bytesOf(MemoryCategory::Activations, before));
    EXPECT_GT(bytesOf(MemoryCategory::Gradients, peak.byCategory), bytesOf(MemoryCategory::Gradients, before));
  }
  EXPECT_EQ(bytesOf(MemoryCategory::Scores, MemoryTracker::currentByCategory()),
            bytesOf(MemoryCategory::Scores, before));
}

// The zeroth-order step keeps block input states and forward outputs alive while it perturbs:
// tagged Activations at the peak, all released after.
TEST(ZerothOrderScores, ForwardsAreTaggedActivations) {
  MemoryTracker::install();
  TinyBlockModel m(4, 2, 7);
  const auto batches = randomBatches(2, 4, 4, 3);
  const auto before = MemoryTracker::currentByCategory();
  MemoryTracker::resetPeak();
  ZerothOrderOptions o;
  zerothOrderScores(m, batches, m.linears(), o);
  const auto peak = MemoryTracker::peak();
  EXPECT_GT(bytesOf(MemoryCategory::Activations, peak.byCategory), bytesOf(MemoryCategory::Activations, before));
  EXPECT_EQ(bytesOf(MemoryCategory::Activations, MemoryTracker::currentByCategory()),
            bytesOf(MemoryCategory::Activations, before));
}

}  // namespace
}  // namespace prunelab::prune
