#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <memory>

#include "framework/model/Distillation.h"
#include "framework/prune/StructuredModel.h"
#include "framework/run/Job.h"
#include "models/mini_xvlm/MiniXvlm.h"
#include "pruners/common/StructuredFinetune.h"
#include "pruners/modal_adaptive/ModalAdaptivePruner.h"
#include "pruners/structured_magnitude/StructuredMagnitudePruner.h"
#include "tests/support/Assertions.h"
#include "tests/support/RunFixture.h"

namespace prunelab::pruners {
namespace {

using testing::errorOf;

// mini_xvlm_tiny fine-tuned for VQA on the tiny scenes; the pruners' steps kept small.
const std::vector<std::string> kVqa = {"model=mini_xvlm_tiny", "model.task=vqa", "dataset=fashion_scenes_tiny"};
const std::vector<std::string> kAdaptive = {"pruner=modal_adaptive", "pruner.finetune.steps=60",
                                            "pruner.finetune.batch_size=16", "pruner.finetune.lr=5e-4",
                                            "pruner.reg_lr=0.1", "pruner.log_every=10", "pruner.finetune.log_every=10"};

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class StructuredPrunerTest : public testing::TinyRunTest {
 protected:
  // A model and its data prepared as a run prepares them (trained into the test's cache).
  struct Prepared {
    std::unique_ptr<data::DataSource> data;
    std::unique_ptr<model::Model> model;
    std::unique_ptr<prune::Pruner> pruner;
    profile::Profiler profiler;
  };
  std::unique_ptr<Prepared> prepare(const std::vector<std::string>& extra) {
    const auto job = run::prepareJob(composer_, overrides(extra), registries_);
    auto p = std::make_unique<Prepared>();
    p->data = registries_.datasets.create(job.resolved["dataset"], "dataset");
    p->data->prepare();
    p->model = registries_.models.create(job.resolved["model"], "model");
    model::ModelContext ctx;
    ctx.data = p->data.get();
    ctx.cacheDir = dir_.path() / "cache";
    p->model->prepare(ctx);
    p->pruner = registries_.pruners.create(job.resolved["pruner"], "pruner");
    return p;
  }
  static prune::PruneResult prune(Prepared& p) {
    prune::PruneContext ctx{*p.model, *p.data, p.profiler, 0};
    return p.pruner->prune(ctx);
  }
  static double metric(const prune::PruneResult& r, const std::string& key) {
    for (auto it = r.metrics.rbegin(); it != r.metrics.rend(); ++it)
      if (it->key == key) return it->value;
    ADD_FAILURE() << "no metric " << key;
    return NAN;
  }
};

// What the tests compare: the losses of a VQA and a caption batch, ITC embeddings and ITM logits.
std::vector<torch::Tensor> outputs(model::Model& m, data::DataSource& data) {
  torch::NoGradGuard noGrad;
  m.module().eval();
  const auto vqa = data.split("vqa_test")->get({0, 1, 2, 3, 4, 5});
  const auto scenes = data.split("test")->get({0, 1, 2, 3});
  auto& contrastive = dynamic_cast<model::ContrastiveHead&>(m);
  auto& matching = dynamic_cast<model::MatchingHead&>(m);
  return {m.loss(vqa).reshape({1}), m.loss(scenes).reshape({1}), contrastive.imageEmbeddings(scenes),
          contrastive.textEmbeddings(scenes.at("captions")), matching.matchLogits(scenes, scenes.at("captions"))};
}

// The largest difference of any output, relative to the output's scale where that exceeds 1 (the
// losses).
double maxDifference(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].sizes(), b[i].sizes()) << i;
    const double scale = std::max(1.0, b[i].abs().max().item<double>());
    const double d = (a[i] - b[i]).abs().max().item<double>() / scale;
    worst = std::max(worst, d);
  }
  return worst;
}

TEST_F(StructuredPrunerTest, ModalAdaptiveReachesItsTargetWithBinaryGatesAndRemovalEqualsMasking) {
  auto masked = prepare(with(with(kVqa, kAdaptive), {"pruner.sparsity=0.5", "pruner.physical_removal=false"}));
  const auto dense = outputs(*masked->model, *masked->data);
  std::int64_t denseParams = 0;
  for (const auto& p : masked->model->module().parameters()) denseParams += p.numel();
  const auto r = prune(*masked);
  // The binary gates remove the target share (up to half a head); the Lagrangian pushed ŝ up.
  EXPECT_NEAR(metric(r, "prune/modal_adaptive/achieved_sparsity"), 0.5, 0.01);
  double removedWeights = 0, weights = 0;
  for (const auto& l : r.layers) {
    removedWeights += l.achievedSparsity * static_cast<double>(l.numel);
    weights += static_cast<double>(l.numel);
  }
  EXPECT_NEAR(removedWeights / weights, 0.5, 0.02) << "the share of the block matrices' weights removed";
  EXPECT_GT(metric(r, "prune/modal_adaptive/final_expected_sparsity"), 0.25);
  for (const char* m : {"vision", "text", "cross"}) {
    const double s = metric(r, std::string("prune/modal_adaptive/") + m + "/sparsity");
    EXPECT_TRUE(s >= 0 && s <= 1) << m;
    const double heads = metric(r, std::string("prune/modal_adaptive/") + m + "/heads_kept");
    EXPECT_EQ(heads, std::round(heads)) << "binary gates keep whole heads";
  }
  EXPECT_GT(metric(r, "prune/modal_adaptive/finetune/kd_loss"), 0.0);
  const auto gated = outputs(*masked->model, *masked->data);
  EXPECT_GT(maxDifference(dense, gated), 1e-3) << "pruning changed nothing";

  // Physical removal of the gates the pruner left installed: a smaller model computing what the
  // masked one computes.
  auto& xvlm = dynamic_cast<models::MiniXvlm&>(*masked->model);
  prune::StructureValues keep;
  for (auto* stack : xvlm.net()->stacks())
    for (auto block : (*stack)->blocks()) {
      auto heads = block->attn->headMask();
      ASSERT_TRUE(heads.defined());
      if (block->hasCross()) heads = torch::cat({heads, block->cross->headMask()});
      keep.heads.push_back(heads);
      const auto neurons = block->mlp->neuronMask();
      ASSERT_TRUE(neurons.defined());
      keep.neurons.push_back(neurons);
      EXPECT_TRUE(heads.eq(0).logical_or(heads.eq(1)).all().item<bool>()) << "binary head gates";
      EXPECT_TRUE(neurons.eq(0).logical_or(neurons.eq(1)).all().item<bool>()) << "binary neuron gates";
    }
  xvlm.removeStructures(keep);
  EXPECT_LE(maxDifference(outputs(xvlm, *masked->data), gated), 1e-5);
  std::int64_t params = 0;
  for (const auto& p : xvlm.module().parameters()) params += p.numel();
  EXPECT_LT(params, denseParams);
  // Each layer record's removed share is what removal took from its weights.
  std::map<std::string, std::int64_t> after;
  for (const auto& l : xvlm.linears()) after[l.name] = l.layer->weight.numel();
  for (const auto& l : r.layers)
    EXPECT_NEAR(l.achievedSparsity, 1.0 - static_cast<double>(after.at(l.name)) / static_cast<double>(l.numel), 1e-12)
        << l.name;
}

TEST_F(StructuredPrunerTest, PrunedCheckpointReloadsToTheSameOutputs) {
  auto r = run(with(with(kVqa, kAdaptive), {"pruner.sparsity=0.4", "save_checkpoint=true", "eval=vqa",
                                             "+eval.retrieval.type=retrieval", "+eval.retrieval.itm_k=4"}));
  ASSERT_EQ(r.status, store::RunStatus::Finished) << r.error;
  const auto file = r.outputDir / "pruned.safetensors";
  ASSERT_TRUE(std::filesystem::exists(file));
  const auto pruned = store_.metrics(r.runId);
  EXPECT_TRUE(pruned.count("prune/targets/vision/achieved_sparsity"));
  auto again = run(with(kVqa, {"pruner=none", "model.checkpoint=" + file.string(), "eval=vqa",
                               "+eval.retrieval.type=retrieval", "+eval.retrieval.itm_k=4"}));
  ASSERT_EQ(again.status, store::RunStatus::Finished) << again.error;
  const auto reloaded = store_.metrics(again.runId);
  for (const char* key : {"vqa/fashion_scenes/test/acc", "ret/fashion_scenes/test/i2t_r1",
                          "ret/fashion_scenes/test/itm_t2i_r1", "model/all/all/params"}) {
    ASSERT_TRUE(pruned.count(key)) << key;
    EXPECT_EQ(reloaded.at(key), pruned.at(key)) << key;
  }
  // And in-process, output for output.
  auto a = prepare(with(kVqa, {"pruner=none", "model.checkpoint=" + file.string()}));
  auto b = prepare(with(kVqa, {"pruner=none", "model.checkpoint=" + file.string()}));
  EXPECT_EQ(maxDifference(outputs(*a->model, *a->data), outputs(*b->model, *b->data)), 0.0);
}

TEST_F(StructuredPrunerTest, UniformStructuredPruningRemovesExactlyTheAskedShareOfEveryModule) {
  auto p = prepare(with(kVqa, {"pruner=structured_magnitude", "pruner.sparsity=0.5", "pruner.finetune.steps=0"}));
  auto& structured = dynamic_cast<prune::StructuredModel&>(*p->model);
  const auto before = structured.gatedBlocks();
  std::int64_t denseWeights = 0;
  for (const auto& l : p->model->linears()) denseWeights += l.layer->weight.numel();
  const auto r = prune(*p);
  const auto after = structured.gatedBlocks();
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t b = 0; b < before.size(); ++b) {
    EXPECT_EQ(after[b].layout.heads * 2, before[b].layout.heads) << b;
    EXPECT_EQ(after[b].layout.mlpDim * 2, before[b].layout.mlpDim) << b;
  }
  std::int64_t weights = 0;
  for (const auto& l : p->model->linears()) weights += l.layer->weight.numel();
  EXPECT_EQ(2 * weights, denseWeights) << "exactly half of every block matrix";
  for (const auto& l : r.layers) EXPECT_DOUBLE_EQ(l.achievedSparsity, 0.5) << l.name;
  for (const char* m : {"vision", "text", "cross"})
    EXPECT_NEAR(metric(r, std::string("prune/structured_magnitude/") + m + "/sparsity"), 0.5, 0.01) << m;
}

TEST_F(StructuredPrunerTest, TheProbePrunesOneModuleAndKeepsTheOthers) {
  auto p = prepare(with(kVqa, {"pruner=module_probe", "pruner.module=text", "pruner.sparsity=0.5"}));
  const auto r = prune(*p);
  for (const auto& l : r.layers) EXPECT_DOUBLE_EQ(l.achievedSparsity, l.modality == "text" ? 0.5 : 0.0) << l.name;
  EXPECT_NEAR(metric(r, "prune/structured_magnitude/text/sparsity"), 0.5, 0.01);
  // Unpruned: 0 up to the floor of the per-head parameter count (HardConcrete.cpp).
  EXPECT_NEAR(metric(r, "prune/structured_magnitude/vision/sparsity"), 0.0, 0.01);
  auto bad = prepare(with(kVqa, {"pruner=module_probe", "pruner.module=language"}));
  EXPECT_CONTAINS(errorOf([&] { prune(*bad); }), "no 'language' blocks");
}

TEST_F(StructuredPrunerTest, HeadGatesAloneLeaveTheMlpsWhole) {
  auto p = prepare(with(with(kVqa, kAdaptive), {"pruner=l0_heads", "pruner.sparsity=0.5"}));
  const auto r = prune(*p);
  EXPECT_NEAR(metric(r, "prune/modal_adaptive/achieved_sparsity"), 0.5, 0.01);
  for (const auto& l : r.layers) {
    if (l.name.find(".mlp.") != std::string::npos) {
      EXPECT_EQ(l.achievedSparsity, 0.0) << l.name;
    }
  }
}

TEST_F(StructuredPrunerTest, AModelItCannotPruneFailsTheRunBeforeAnyTraining) {
  // The task decides the KD formula, so a pretrain-only model is refused before it is trained.
  auto pretrain = run({"model=mini_xvlm_tiny", "model.task=pretrain", "dataset=fashion_scenes_tiny",
                       "pruner=modal_adaptive"});
  ASSERT_EQ(pretrain.status, store::RunStatus::Failed);
  EXPECT_CONTAINS(pretrain.error, "set model.task=vqa or model.task=retrieval");
  EXPECT_FALSE(store_.metrics(pretrain.runId).count("train/mini_xvlm/teacher/pretrain/loss")) << "it trained first";
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "cache" / "models")) << "it trained first";
  // A model without heads and neurons to gate; the one-shot probe needs no task.
  for (const char* pruner : {"pruner=modal_adaptive", "pruner=structured_magnitude", "pruner=module_probe"}) {
    auto mlp = run({"model=mlp_tiny", pruner});
    ASSERT_EQ(mlp.status, store::RunStatus::Failed) << pruner;
    EXPECT_CONTAINS(mlp.error, "use model=mini_xvlm");
    EXPECT_FALSE(std::filesystem::exists(dir_.path() / "cache" / "models")) << pruner << " trained first";
  }
}

TEST_F(StructuredPrunerTest, TheFineTuningSeedDefaultsToTheRunsAndVariesThePruningAlone) {
  auto lossWith = [&](const std::string& seed) {
    auto p = prepare(with(with(kVqa, kAdaptive), {"pruner.finetune.steps=6", "pruner.finetune.seed=" + seed}));
    const auto weights = p->model->weightsId();
    const auto r = prune(*p);
    return std::make_pair(weights, metric(r, "prune/modal_adaptive/finetune/final_loss"));
  };
  const auto runs = lossWith("-1"), zero = lossWith("0"), one = lossWith("1");
  EXPECT_EQ(runs.second, zero.second) << "-1 is the run's seed (0)";
  EXPECT_NE(runs.second, one.second) << "another fine-tuning seed, other batches and gates";
  EXPECT_EQ(runs.first, one.first) << "the same dense model";
}

TEST(StructuredMagnitudeTest, KeepsTheLargestPerRowAndDropsTiesByIndex) {
  const auto scores = torch::tensor({{3.0, 1.0, 2.0, 1.0}, {0.5, 0.4, 0.3, 0.2}});
  const auto keep = StructuredMagnitudePruner::keepLargest(scores, 0.5);
  EXPECT_TRUE(torch::equal(keep, torch::tensor({{1.0f, 0.0f, 1.0f, 0.0f}, {1.0f, 1.0f, 0.0f, 0.0f}})));
  // round(0.25·4) = 1: of the tied 1.0s the lower index goes.
  EXPECT_TRUE(torch::equal(StructuredMagnitudePruner::keepLargest(scores.narrow(0, 0, 1), 0.25),
                           torch::tensor({{1.0f, 0.0f, 1.0f, 1.0f}})));
  EXPECT_TRUE(torch::equal(StructuredMagnitudePruner::keepLargest(scores, 0.0), torch::ones({2, 4})));
}

TEST(ModalAdaptiveBudgetTest, ClosesTheLowestLogAlphaGatesUntilTheTargetShareIsRemoved) {
  // One block: 2 heads (params per head (4·4·4 + 3·4 + 4)/2 = 40), MLP of 4 neurons
  // ((2·4·4 + 4 + 4)/4 = 10 each; the whole MLP counts 2·4·4 + 4 + 4 = 40). M = 80 + 40 = 120.
  prune::GatedBlock b;
  b.modality = "text";
  b.dim = 4;
  b.heads = 2;
  b.headDim = 2;
  b.mlpDim = 4;
  prune::StructureValues logAlpha;
  logAlpha.heads = {torch::tensor({3.0, -1.0})};
  logAlpha.neurons = {torch::tensor({0.5, -2.0, 0.1, 4.0})};
  // 25% = 30: neuron 1 (10), head 1 (40 > 30 + 20? no: 50 <= 50, so it closes), then stop.
  auto keep = ModalAdaptivePruner::budgetGates({b}, logAlpha, 0.25);
  EXPECT_TRUE(torch::equal(keep.heads[0], torch::tensor({1.0f, 0.0f})));
  EXPECT_TRUE(torch::equal(keep.neurons[0], torch::tensor({1.0f, 0.0f, 1.0f, 1.0f})));
  // 10% = 12: neuron 1 only (head 1 would remove 50 > 12 + 20).
  keep = ModalAdaptivePruner::budgetGates({b}, logAlpha, 0.1);
  EXPECT_TRUE(torch::equal(keep.heads[0], torch::ones({2})));
  EXPECT_TRUE(torch::equal(keep.neurons[0], torch::tensor({1.0f, 0.0f, 1.0f, 1.0f})));
}

TEST(TaskKdFormulaTest, TheSpecsWeights) {
  // spec §2.4, Eff_Retrieval.py: L = 0.5·(L_kd + L_itc + L_itm), L_kd = KL_itm + 0.33·(L_text + L_img +
  // L_cross), L_text = hid + attn, L_img = 0.2·hid + attn, L_cross = 0.5·(hid + self + cross).
  const auto r = taskKdFormula("retrieval");
  EXPECT_DOUBLE_EQ(r.kd, 0.5);
  EXPECT_DOUBLE_EQ(r.task, 0.5);
  EXPECT_DOUBLE_EQ(r.logit, 1.0);
  ASSERT_EQ(r.stacks.size(), 3u);
  EXPECT_DOUBLE_EQ(r.stacks.at("text").hidden, 0.33);
  EXPECT_DOUBLE_EQ(r.stacks.at("text").attention, 0.33);
  EXPECT_DOUBLE_EQ(r.stacks.at("vision").hidden, 0.33 * 0.2);
  EXPECT_DOUBLE_EQ(r.stacks.at("vision").attention, 0.33);
  EXPECT_DOUBLE_EQ(r.stacks.at("cross").hidden, 0.33 * 0.5);
  EXPECT_DOUBLE_EQ(r.stacks.at("cross").attention, 0.33 * 0.5);
  EXPECT_TRUE(r.needsTeacher());
  // Eff_VQA.py: L = 0.4·L_kd + 0.6·L_task, L_kd = KL + text(attn + hid) + image(attn + 0.2·hid) +
  // 0.5·cross(hid + self + cross).
  const auto v = taskKdFormula("vqa");
  EXPECT_DOUBLE_EQ(v.kd, 0.4);
  EXPECT_DOUBLE_EQ(v.task, 0.6);
  EXPECT_DOUBLE_EQ(v.logit, 1.0);
  ASSERT_EQ(v.stacks.size(), 3u);
  EXPECT_DOUBLE_EQ(v.stacks.at("text").hidden, 1.0);
  EXPECT_DOUBLE_EQ(v.stacks.at("text").attention, 1.0);
  EXPECT_DOUBLE_EQ(v.stacks.at("vision").hidden, 0.2);
  EXPECT_DOUBLE_EQ(v.stacks.at("vision").attention, 1.0);
  EXPECT_DOUBLE_EQ(v.stacks.at("cross").hidden, 0.5);
  EXPECT_DOUBLE_EQ(v.stacks.at("cross").attention, 0.5);
  const auto none = taskKdFormula("none");
  EXPECT_FALSE(none.needsTeacher());
  EXPECT_DOUBLE_EQ(none.task, 1.0);
  EXPECT_CONTAINS(errorOf([] { taskKdFormula("vq"); }), "did you mean 'vqa'");
}

TEST_F(StructuredPrunerTest, FineTuningWeighsTaskAndKdAsTheFormulaSays) {
  // Without gates the logged loss is exactly task·task_loss + kd·kd_loss of the formula (window
  // means of a linear combination), with a KD term that is really there.
  for (const char* task : {"vqa", "retrieval"}) {
    auto p = prepare({"model=mini_xvlm_tiny", std::string("model.task=") + task, "dataset=fashion_scenes_tiny",
                      "pruner=structured_magnitude", "pruner.sparsity=0.25", "pruner.finetune.steps=4",
                      "pruner.finetune.batch_size=8", "pruner.finetune.log_every=2"});
    const auto r = prune(*p);
    const auto f = taskKdFormula(task);
    const double loss = metric(r, "prune/structured_magnitude/finetune/loss");
    const double taskLoss = metric(r, "prune/structured_magnitude/finetune/task_loss");
    const double kd = metric(r, "prune/structured_magnitude/finetune/kd_loss");
    // The sums are float32 per step, so the combination holds to a few float ulps; the KD share
    // (small on these barely trained nets) must be well above that for the check to mean anything.
    const double tolerance = 1e-6 * std::max(1.0, loss);
    EXPECT_GT(f.kd * kd, 10 * tolerance) << task << ": kd_loss " << kd;
    EXPECT_NEAR(loss, f.task * taskLoss + f.kd * kd, tolerance) << task;
  }
}

}  // namespace
}  // namespace prunelab::pruners
