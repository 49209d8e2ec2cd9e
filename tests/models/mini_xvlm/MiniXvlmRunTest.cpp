#include <cmath>

#include <gtest/gtest.h>

#include "tests/support/RunFixture.h"

namespace prunelab::models {
namespace {

class MiniXvlmRunTest : public testing::TinyRunTest {};

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

const std::vector<std::string> kBase = {"model=mini_xvlm_tiny", "dataset=fashion_scenes_tiny", "pruner=none"};
const std::vector<std::string> kEvals = {"eval=vqa", "+eval.retrieval.type=retrieval", "+eval.retrieval.itm_k=4"};

TEST_F(MiniXvlmRunTest, TrainsEachStageOnceCachesItAndEvaluatesVqaAndRetrieval) {
  const auto args = with(with(kBase, {"model.task=vqa"}), kEvals);
  auto first = run(args);
  ASSERT_EQ(first.status, store::RunStatus::Finished) << first.error;
  auto m1 = store_.metrics(first.runId);
  for (const char* key : {"train/mini_xvlm/teacher/pretrain/loss", "train/mini_xvlm/teacher/vqa/loss",
                          "train/mini_xvlm/teacher/vqa/val_answer_acc"})
    EXPECT_TRUE(m1.count(key)) << key;
  for (const char* key : {"vqa/fashion_scenes/test/acc", "ret/fashion_scenes/test/i2t_r1",
                          "ret/fashion_scenes/test/itm_t2i_r1"}) {
    ASSERT_TRUE(m1.count(key)) << key;
    EXPECT_TRUE(std::isfinite(m1.at(key))) << key;
  }
  // The same recipe loads from the cache: no training curve, the same metrics.
  auto second = run(args);
  ASSERT_EQ(second.status, store::RunStatus::Finished) << second.error;
  auto m2 = store_.metrics(second.runId);
  EXPECT_FALSE(m2.count("train/mini_xvlm/teacher/vqa/loss"));
  for (const char* key : {"vqa/fashion_scenes/test/acc", "ret/fashion_scenes/test/itm_i2t_r1"})
    EXPECT_EQ(m1.at(key), m2.at(key)) << key;
  // Another task retrains only its own stage.
  auto retrieval = run(with(with(kBase, {"model.task=retrieval"}), {"eval=retrieval"}));
  ASSERT_EQ(retrieval.status, store::RunStatus::Finished) << retrieval.error;
  auto m3 = store_.metrics(retrieval.runId);
  EXPECT_TRUE(m3.count("train/mini_xvlm/teacher/retrieval/loss"));
  EXPECT_FALSE(m3.count("train/mini_xvlm/teacher/pretrain/loss"));
  // The student distils from the cached teacher, then fine-tunes.
  auto student = run(with(with(kBase, {"model.task=vqa", "model.variant=student"}), {"eval=vqa"}));
  ASSERT_EQ(student.status, store::RunStatus::Finished) << student.error;
  auto m4 = store_.metrics(student.runId);
  EXPECT_TRUE(m4.count("train/mini_xvlm/student/distill/loss"));
  EXPECT_TRUE(m4.count("train/mini_xvlm/student/vqa/loss"));
  EXPECT_FALSE(m4.count("train/mini_xvlm/teacher/pretrain/loss"));
  EXPECT_LT(m4.at("model/all/all/params"), m1.at("model/all/all/params"));
  // Training from scratch in a fresh cache gives the same weights, hence the same metrics.
  auto fresh = run(with(args, {"cache_dir=" + (dir_.path() / "cache2").string()}));
  ASSERT_EQ(fresh.status, store::RunStatus::Finished) << fresh.error;
  for (const char* key : {"vqa/fashion_scenes/test/acc", "ret/fashion_scenes/test/i2t_r1"})
    EXPECT_EQ(store_.metrics(fresh.runId).at(key), m1.at(key)) << key;
}

TEST_F(MiniXvlmRunTest, UnstructuredPrunersRunOnItToo) {
  for (const char* pruner : {"pruner=wanda", "pruner=ecoflap_zeroth"}) {
    auto r = run(with(kBase, {"model.task=retrieval", pruner, "pruner.sparsity=0.5", "eval=retrieval"}));
    ASSERT_EQ(r.status, store::RunStatus::Finished) << pruner << ": " << r.error;
    const auto m = store_.metrics(r.runId);
    EXPECT_NEAR(m.at("prune/targets/all/achieved_sparsity"), 0.5, 1.0 / 32) << pruner;
    for (const char* modality : {"vision", "text", "cross"})
      EXPECT_TRUE(m.count(std::string("prune/targets/") + modality + "/achieved_sparsity")) << pruner << modality;
  }
}

}  // namespace
}  // namespace prunelab::models
