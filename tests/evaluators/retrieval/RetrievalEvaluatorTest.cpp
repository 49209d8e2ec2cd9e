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
torch::Tensor textTable() {
  auto table = torch::zeros({16, 2});
  const float rows[6][2] = {{1, 0}, {0, 1}, {0.6f, 0.8f}, {1, 0.1f}, {-1, 0}, {0.6f, 0.8f}};
  for (int k = 0; k < 6; ++k) table[10 + k] = torch::tensor({rows[k][0], rows[k][1]});
  return table;
}

struct Fixture {
  testing::FakeSource data;
  std::unique_ptr<testing::FakeContrastiveModel> model;
  Fixture() {
    model = std::make_unique<testing::FakeContrastiveModel>(textTable());
    auto captions = torch::zeros({3, 3, 4}, torch::kInt64);
    for (int i = 0; i < 3; ++i)
      for (int c = 0; c < 2; ++c) captions[i][c] = torch::tensor({2, 10 + 2 * i + c, 3, 0}, torch::kInt64);
    data.add("test", {{"images", torch::tensor({1.f, 0.f, 0.f, 1.f, 1.f, 1.f}).view({3, 2})},
                      {"all_captions", captions},
                      {"image_index", torch::arange(3, torch::kInt64)}});
  }
};

// ITM logits for the fixture: 10 for an image's own captions, 0 for the others.
torch::Tensor ownCaptionLogits() {
  auto logits = torch::zeros({3, 6});
  for (int i = 0; i < 3; ++i) logits[i].narrow(0, 2 * i, 2).fill_(10.0f);
  return logits;
}

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

// itm_k = 2 re-ranks the two best ITC candidates (similarities of the fixture above):
//   i2t top-2: i0 t0 (1) t3 (.995); i1 t1 (1) t2 (.8, tied with t5: lower index); i2 t2 (.99) t5 (.99)
//   with +10 for own captions every image's own caption comes first: i2t ranks 0 0 0 -> R@1 100
//   t2i top-2: t0 i0 i2; t1 i1 i2; t2 i2 i1; t3 i0 i2; t4 i1 i2; t5 i2 i1. t1's image i0 and t3's
//   image i1 are outside their top-2 (-100): rank 2; the others' own image wins: ranks 0 2 0 2 0 0
//   -> t2i R@1 4/6, R@5 100. 12 distinct pairs (every i2t pair is also a t2i pair).
TEST(RetrievalEvaluatorTest, ItmReRankingMatchesTheHandComputedRanksAndKeepsTheItcKeys) {
  for (std::int64_t batch : {1, 5, 256}) {
    Fixture f;
    testing::FakeMatchingModel model(textTable(), ownCaptionLogits());
    RetrievalEvaluator::Options o;
    o.batch_size = batch;
    o.itm_k = 2;
    RetrievalEvaluator eval(o);
    run::EvalContext ctx{model, f.data, 0};
    auto m = byKey(eval.evaluate(ctx));
    EXPECT_NEAR(m.at("ret/fake/test/i2t_r1"), 100.0 / 3, 1e-9) << "ITC recalls keep their keys";
    EXPECT_NEAR(m.at("ret/fake/test/t2i_r1"), 100.0 * 2 / 6, 1e-9);
    EXPECT_NEAR(m.at("ret/fake/test/itm_i2t_r1"), 100.0, 1e-9) << "batch " << batch;
    EXPECT_NEAR(m.at("ret/fake/test/itm_t2i_r1"), 100.0 * 4 / 6, 1e-9);
    EXPECT_NEAR(m.at("ret/fake/test/itm_t2i_r5"), 100.0, 1e-9);
    EXPECT_NEAR(m.at("ret/fake/test/itm_txt_r_mean"), 100.0, 1e-9);
    EXPECT_NEAR(m.at("ret/fake/test/itm_r_mean"), (100.0 + (100.0 * 4 / 6 + 200) / 3) / 2, 1e-9);
    EXPECT_EQ(model.pairsScored, 12) << "each distinct pair once";
    EXPECT_EQ(model.matchCalls, (12 + batch - 1) / batch);
  }
}

TEST(RetrievalEvaluatorTest, ItmOverEveryCandidateRanksOwnCaptionsFirst) {
  Fixture f;
  testing::FakeMatchingModel model(textTable(), ownCaptionLogits());
  RetrievalEvaluator::Options o;
  o.itm_k = 128;  // more than the texts and images: every pair is re-ranked
  RetrievalEvaluator eval(o);
  run::EvalContext ctx{model, f.data, 0};
  auto m = byKey(eval.evaluate(ctx));
  EXPECT_NEAR(m.at("ret/fake/test/itm_i2t_r1"), 100.0, 1e-9);
  EXPECT_NEAR(m.at("ret/fake/test/itm_t2i_r1"), 100.0, 1e-9);
  EXPECT_EQ(model.pairsScored, 18);
}

TEST(RetrievalEvaluatorTest, ItmWithoutAMatchingHeadIsAnErrorBeforeAnyWorkAndOffByDefault) {
  Fixture f;
  RetrievalEvaluator::Options o;
  o.itm_k = 128;
  RetrievalEvaluator eval(o);
  run::EvalContext ctx{*f.model, f.data, 0};
  auto message = testing::errorOf([&] { eval.evaluate(ctx); });
  EXPECT_CONTAINS(message, "itm_k=128");
  EXPECT_CONTAINS(message, "MatchingHead");
  EXPECT_CONTAINS(message, "FakeContrastiveModel");
  EXPECT_EQ(f.model->textCalls, 0) << "checked before embedding anything";

  testing::FakeMatchingModel matcher(torch::ones({16, 2}), ownCaptionLogits());
  RetrievalEvaluator itc(RetrievalEvaluator::Options{});
  run::EvalContext ctx2{matcher, f.data, 0};
  auto m = byKey(itc.evaluate(ctx2));
  EXPECT_EQ(matcher.matchCalls, 0) << "itm_k defaults to 0";
  EXPECT_EQ(m.count("ret/fake/test/itm_i2t_r1"), 0u);
  o.itm_k = -1;
  EXPECT_THROW(o.validate(), Error);
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
