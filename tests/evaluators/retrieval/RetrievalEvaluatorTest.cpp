#include <gtest/gtest.h>

#include "evaluators/retrieval/RetrievalEvaluator.h"
#include "tests/evaluators/retrieval/FakeContrastiveModel.h"
#include "tests/support/Assertions.h"
#include "tests/support/RunFixture.h"
#include "tests/support/TinyBlockModel.h"

namespace prunelab::evaluators {
namespace {

std::map<std::string, double> byKey(const std::vector<store::MetricRecord>& records) {
  std::map<std::string, double> out;
  for (const auto& r : records) out[r.key] = r.value;
  return out;
}

// Three images, two captions each (a third, all-[PAD] caption slot is absent), in 2-D:
//   images  i0 (1,0)  i1 (0,1)  i2 (1,1)
//   texts   t0 (1,0) t1 (0,1) -> i0;  t2 (.6,.8) t3 (1,.1) -> i1;  t4 (-1,0) t5 (.6,.8) -> i2
// Ranked by hand (ties: lower index first; t2 and t5 are the same vector):
//   i2t: i0 -> t0 first (rank 0); i1 -> t1, t2 (rank 1); i2 -> t2, t5 (rank 1)
//   t2i: t0 0, t1 2, t2 1, t3 2, t4 1 (i1 scores 0 > -.71 of i2), t5 0
struct Fixture {
  testing::FakeSource data;
  std::unique_ptr<testing::FakeContrastiveModel> model;
  Fixture() {
    auto table = torch::zeros({16, 2});
    const float rows[6][2] = {{1, 0}, {0, 1}, {0.6f, 0.8f}, {1, 0.1f}, {-1, 0}, {0.6f, 0.8f}};
    for (int k = 0; k < 6; ++k) table[10 + k] = torch::tensor({rows[k][0], rows[k][1]});
    model = std::make_unique<testing::FakeContrastiveModel>(table);
    auto captions = torch::zeros({3, 3, 4}, torch::kInt64);
    for (int i = 0; i < 3; ++i)
      for (int c = 0; c < 2; ++c) captions[i][c] = torch::tensor({2, 10 + 2 * i + c, 3, 0}, torch::kInt64);
    data.add("test",
             {{"images", torch::tensor({1.f, 0.f, 0.f, 1.f, 1.f, 1.f}).view({3, 2})}, {"all_captions", captions}});
  }
};

TEST(RetrievalEvaluatorTest, RanksAndRecallsMatchTheHandComputedOnes) {
  for (std::int64_t batch : {1, 2, 256}) {
    Fixture f;
    RetrievalEvaluator::Options o;
    o.batch_size = batch;
    RetrievalEvaluator eval(o);
    run::EvalContext ctx{*f.model, f.data, 0};
    auto m = byKey(eval.evaluate(ctx));
    EXPECT_NEAR(m.at("ret/fake/test/i2t_r1"), 100.0 / 3, 1e-9) << "batch " << batch;
    EXPECT_NEAR(m.at("ret/fake/test/i2t_r5"), 100.0, 1e-9);
    EXPECT_NEAR(m.at("ret/fake/test/i2t_r10"), 100.0, 1e-9);
    EXPECT_NEAR(m.at("ret/fake/test/t2i_r1"), 100.0 * 2 / 6, 1e-9);
    EXPECT_NEAR(m.at("ret/fake/test/t2i_r5"), 100.0, 1e-9);
    EXPECT_NEAR(m.at("ret/fake/test/txt_r_mean"), (100.0 / 3 + 200) / 3, 1e-9);
    EXPECT_NEAR(m.at("ret/fake/test/r_mean"), ((100.0 / 3 + 200) / 3 + (100.0 / 3 + 200) / 3) / 2, 1e-9);
    EXPECT_EQ(m.at("ret/fake/test/images"), 3);
    EXPECT_EQ(m.at("ret/fake/test/texts"), 6) << "all-[PAD] caption slots are not texts";
  }
}

TEST(RetrievalEvaluatorTest, Recall1CountsOnlyRankZero) {
  // Limit to the first two images: i0 -> t0 (rank 0); i1's row over t0..t3 is t1 1, t2 .8 -> rank 1.
  Fixture f;
  RetrievalEvaluator::Options o;
  o.limit = 2;
  RetrievalEvaluator eval(o);
  run::EvalContext ctx{*f.model, f.data, 0};
  auto m = byKey(eval.evaluate(ctx));
  EXPECT_NEAR(m.at("ret/fake/test/i2t_r1"), 50.0, 1e-9);
  // t2i over i0, i1: t0 -> i0 (0), t1 -> i1 beats i0 (rank 1), t2 -> i1 .8 > .6 (0), t3 -> i0 .995 > .0995 (1).
  EXPECT_NEAR(m.at("ret/fake/test/t2i_r1"), 50.0, 1e-9);
  EXPECT_EQ(m.at("ret/fake/test/texts"), 4);
}

TEST(RetrievalEvaluatorTest, AModelWithoutEmbeddingsIsAClearError) {
  testing::TinyBlockModel model;
  Fixture f;
  RetrievalEvaluator eval(RetrievalEvaluator::Options{});
  run::EvalContext ctx{model, f.data, 0};
  auto message = testing::errorOf([&] { eval.evaluate(ctx); });
  EXPECT_CONTAINS(message, "evaluator 'retrieval'");
  EXPECT_CONTAINS(message, "TinyBlockModel");
}

class RetrievalRunTest : public testing::TinyRunTest {};

TEST_F(RetrievalRunTest, MiniClipTinyRunsRetrievalAndZeroShotEndToEnd) {
  auto r = run({"model=mini_clip_tiny", "dataset=fashion_scenes_tiny", "eval=retrieval", "+eval.zeroshot.type=zeroshot",
                "pruner=none"});
  ASSERT_EQ(r.status, store::RunStatus::Finished) << r.error;
  auto m = store_.metrics(r.runId);
  for (const auto* key : {"ret/fashion_scenes/test/i2t_r1", "ret/fashion_scenes/test/t2i_r10",
                          "zs/fashion_scenes/zeroshot/acc1", "zs/fashion_scenes/zeroshot/mean_per_class_recall"})
    ASSERT_TRUE(m.count(key)) << key;
  EXPECT_EQ(m.at("ret/fashion_scenes/test/images"), 50);
  EXPECT_EQ(m.at("ret/fashion_scenes/test/texts"), 250);
  EXPECT_EQ(m.at("zs/fashion_scenes/zeroshot/count"), 100);
  EXPECT_GE(m.at("ret/fashion_scenes/test/i2t_r10"), m.at("ret/fashion_scenes/test/i2t_r1"));
}

TEST_F(RetrievalRunTest, MiniClipTinyPrunedByWandaFinishes) {
  auto r = run(
      {"model=mini_clip_tiny", "dataset=fashion_scenes_tiny", "eval=retrieval", "pruner=wanda", "pruner.nsamples=16"});
  ASSERT_EQ(r.status, store::RunStatus::Finished) << r.error;
  auto layers = store_.layers(r.runId);
  ASSERT_EQ(layers.size(), 16u) << "4 Linears x 2 blocks x 2 stacks";
  for (const auto& l : layers) EXPECT_NEAR(l.achievedSparsity, 0.5, 1e-9) << l.name;
  EXPECT_TRUE(store_.metrics(r.runId).count("ret/fashion_scenes/test/r_mean"));
}

}  // namespace
}  // namespace prunelab::evaluators
