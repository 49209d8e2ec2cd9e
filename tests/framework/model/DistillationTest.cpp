#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cmath>

#include "framework/model/Distillation.h"
#include "tests/support/Assertions.h"

namespace prunelab::model {
namespace {

using testing::errorOf;

torch::Tensor probs(std::vector<std::int64_t> shape, std::uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  return torch::softmax(torch::randn(shape, gen), -1);
}

// A recording of `blocks` blocks; entry i of the lists is seeded by base + i, so two recordings
// with the same base agree.
StackRecording recording(int blocks, std::uint64_t base) {
  StackRecording r;
  auto gen = at::detail::createCPUGenerator(base);
  for (int i = 0; i <= blocks; ++i) r.hidden.push_back(torch::randn({2, 3, 4}, gen));
  for (int i = 0; i < blocks; ++i) {
    r.selfAttention.push_back(probs({2, 2, 3, 3}, base + 100 + i));
    r.crossAttention.push_back(probs({2, 2, 3, 5}, base + 200 + i));
  }
  return r;
}

TEST(DistillationTest, LayerMappingFollowsTheReference) {
  EXPECT_EQ(depthRatio(12, 6), 2);
  EXPECT_EQ(teacherHiddenIndex(0, 2), 0);  // the embedding output
  EXPECT_EQ(teacherHiddenIndex(3, 2), 6);
  EXPECT_EQ(teacherAttentionIndex(0, 2), 1);
  EXPECT_EQ(teacherAttentionIndex(5, 2), 11);
  EXPECT_NE(errorOf([] { depthRatio(6, 4); }).find("whole multiple"), std::string::npos);
}

TEST(DistillationTest, EveryTermIsZeroForIdenticalModelsAndPositiveOtherwise) {
  const auto a = recording(2, 1), same = recording(2, 1), other = recording(2, 7);
  // A "teacher" of the same depth (k = 1) that equals the student.
  EXPECT_EQ(hiddenKd(a, same).item<double>(), 0.0);
  EXPECT_EQ(attentionKd(a.selfAttention, same.selfAttention).item<double>(), 0.0);
  EXPECT_EQ(attentionKd(a.crossAttention, same.crossAttention).item<double>(), 0.0);
  const auto logits = torch::randn({4, 6});
  EXPECT_NEAR(logitKd(logits, logits.clone()).item<double>(), 0.0, 1e-7);
  EXPECT_GT(hiddenKd(a, other).item<double>(), 0.0);
  EXPECT_GT(attentionKd(a.selfAttention, other.selfAttention).item<double>(), 0.0);
  EXPECT_GT(logitKd(logits, torch::randn({4, 6})).item<double>(), 0.0);
  const Recordings s = {{"text", a}}, t = {{"text", same}}, u = {{"text", other}};
  EXPECT_EQ(stacksKd(s, t, {{"text", {1.0, 1.0}}}).item<double>(), 0.0);
  EXPECT_GT(stacksKd(s, u, {{"text", {1.0, 1.0}}}).item<double>(), 0.0);
}

TEST(DistillationTest, TermsMatchTheirClosedFormsOnTheMappedLayers) {
  // Student of 2 blocks, teacher of 4: hidden j <-> 2j, attention i <-> 2i + 1.
  const auto s = recording(2, 3), t = recording(4, 9);
  double hidden = 0;
  for (int j = 0; j <= 2; ++j) hidden += (s.hidden[j] - t.hidden[2 * j]).pow(2).mean().item<double>();
  EXPECT_NEAR(hiddenKd(s, t).item<double>(), hidden, 1e-6);
  double attention = 0;
  for (int i = 0; i < 2; ++i)
    attention += (s.selfAttention[i] - t.selfAttention[2 * i + 1]).pow(2).mean().item<double>() * 3;  // · seq_len
  EXPECT_NEAR(attentionKd(s.selfAttention, t.selfAttention).item<double>(), attention, 1e-6);
  // The skipped ends of a stack are left out.
  auto skip = s;
  skip.compareInput = false;
  skip.compareOutput = false;
  EXPECT_NEAR(hiddenKd(skip, t).item<double>(), (s.hidden[1] - t.hidden[2]).pow(2).mean().item<double>(), 1e-6);
  // KL(p_t || p_s), batchmean.
  const auto ls = torch::tensor({{0.0, 1.0}, {2.0, 0.0}}), lt = torch::tensor({{1.0, 0.0}, {2.0, 0.0}});
  const auto ps = torch::softmax(ls, -1), pt = torch::softmax(lt, -1);
  const double kl = (pt * (pt.log() - ps.log())).sum().item<double>() / 2;
  EXPECT_NEAR(logitKd(ls, lt).item<double>(), kl, 1e-6);
}

TEST(DistillationTest, OnlyTheStudentGetsGradients) {
  auto s = recording(1, 3), t = recording(1, 4);
  for (auto& h : s.hidden) h.requires_grad_(true);
  for (auto& h : t.hidden) h.requires_grad_(true);
  hiddenKd(s, t).backward();
  EXPECT_TRUE(s.hidden[1].grad().defined());
  EXPECT_FALSE(t.hidden[1].grad().defined());
}

TEST(DistillationTest, MismatchedStacksFailWithTheFix) {
  const Recordings s = {{"text", recording(1, 1)}}, t = {{"vision", recording(1, 1)}};
  EXPECT_NE(errorOf([&] { stacksKd(s, t, {{"text", {1.0, 1.0}}}); }).find("teacher side"), std::string::npos);
}

}  // namespace
}  // namespace prunelab::model
