#include <gtest/gtest.h>

#include <torch/torch.h>

#include "framework/profile/MemoryTracker.h"
#include "framework/profile/Profiler.h"

namespace prunelab::profile {
namespace {

constexpr std::int64_t kMiB = 1024 * 1024;

TEST(Profiler, PeakOfA256MiBTensorShowsInItsStageOnly) {
  Profiler profiler;
  {
    auto stage = profiler.stage("big");
    auto t = torch::ones({256 * kMiB / 4}, torch::kFloat32);  // 256 MiB
    EXPECT_GE(MemoryTracker::currentBytes(), 256 * kMiB);
  }
  {
    auto stage = profiler.stage("small");
    auto t = torch::ones({1024}, torch::kFloat32);
  }
  ASSERT_EQ(profiler.records().size(), 2u);
  const auto& big = profiler.records()[0];
  const auto& small = profiler.records()[1];
  EXPECT_EQ(big.stage, "big");
  EXPECT_GE(big.peakTensorBytes - big.tensorBytesStart, 256 * kMiB);
  EXPECT_LT(small.peakTensorBytes - small.tensorBytesStart, 1 * kMiB);
  EXPECT_GT(big.seconds, 0.0);
  EXPECT_EQ(big.status, "FINISHED");
}

TEST(Profiler, NestedStageKeepsOuterPeak) {
  Profiler profiler;
  {
    auto outer = profiler.stage("outer");
    {
      auto inner = profiler.stage("inner");
      auto t = torch::ones({64 * kMiB / 4}, torch::kFloat32);
    }
    auto u = torch::ones({1024}, torch::kFloat32);
  }
  ASSERT_EQ(profiler.records().size(), 2u);
  EXPECT_EQ(profiler.records()[0].stage, "inner");
  EXPECT_EQ(profiler.records()[1].stage, "outer");
  EXPECT_GE(profiler.records()[1].peakTensorBytes - profiler.records()[1].tensorBytesStart, 64 * kMiB);
}

TEST(Profiler, PeakIsSplitByTheMemoryScopeOfEachAllocation) {
  Profiler profiler;
  {
    auto stage = profiler.stage("split");
    torch::Tensor acts, scores, freed;
    {
      MemoryScope tag(MemoryCategory::Activations);
      acts = torch::ones({16 * kMiB / 4}, torch::kFloat32);  // 16 MiB
      {
        MemoryScope inner(MemoryCategory::Scores);
        scores = torch::ones({8 * kMiB / 4}, torch::kFloat32);  // 8 MiB, innermost tag wins
      }
      freed = torch::ones({4 * kMiB / 4}, torch::kFloat32);  // activations again
    }
    EXPECT_GE(MemoryTracker::currentByCategory()[static_cast<int>(MemoryCategory::Activations)], 20 * kMiB);
    freed = torch::Tensor();  // the bytes leave their category when freed
    EXPECT_LT(MemoryTracker::currentByCategory()[static_cast<int>(MemoryCategory::Activations)], 17 * kMiB);
    // Not tagged: the thread is back to Other.
    auto other = torch::ones({2 * kMiB / 4}, torch::kFloat32);
  }
  ASSERT_EQ(profiler.records().size(), 1u);
  const auto& r = profiler.records()[0];
  // The peak came while all three tensors lived (20 MiB activations, 8 MiB scores).
  EXPECT_EQ(r.peakByCategory.at("activations"), 20 * kMiB);
  EXPECT_EQ(r.peakByCategory.at("scores"), 8 * kMiB);
  EXPECT_EQ(r.peakByCategory.at("gradients"), 0);
  EXPECT_EQ(r.peakByCategory.at("statistics"), 0);
  EXPECT_GE(r.peakTensorBytes - r.tensorBytesStart, 28 * kMiB);
  EXPECT_EQ(MemoryTracker::currentByCategory()[static_cast<int>(MemoryCategory::Scores)], 0);
}

TEST(Profiler, NestedStageKeepsTheOuterPeaksSplit) {
  Profiler profiler;
  {
    auto outer = profiler.stage("outer");
    {
      MemoryScope tag(MemoryCategory::Gradients);
      auto g = torch::ones({32 * kMiB / 4}, torch::kFloat32);
    }
    {
      auto inner = profiler.stage("inner");  // a smaller peak, all statistics
      MemoryScope tag(MemoryCategory::Statistics);
      auto h = torch::ones({4 * kMiB / 4}, torch::kFloat32);
    }
  }
  ASSERT_EQ(profiler.records().size(), 2u);
  EXPECT_EQ(profiler.records()[0].peakByCategory.at("statistics"), 4 * kMiB);
  EXPECT_EQ(profiler.records()[0].peakByCategory.at("gradients"), 0);
  EXPECT_EQ(profiler.records()[1].peakByCategory.at("gradients"), 32 * kMiB);
  EXPECT_EQ(profiler.records()[1].peakByCategory.at("statistics"), 0);
}

TEST(Profiler, StageLeftByExceptionIsFailed) {
  Profiler profiler;
  try {
    auto stage = profiler.stage("boom");
    throw std::runtime_error("x");
  } catch (const std::runtime_error&) {
  }
  ASSERT_EQ(profiler.records().size(), 1u);
  EXPECT_EQ(profiler.records()[0].status, "FAILED");
}

TEST(Profiler, RssIsReadFromProc) {
  auto rss = readRss();
  EXPECT_GT(rss.current, 0);
  EXPECT_GE(rss.peak, rss.current);
}

}  // namespace
}  // namespace prunelab::profile
