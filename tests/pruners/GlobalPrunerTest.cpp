#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "framework/prune/BlockwiseDriver.h"
#include "framework/run/Job.h"
#include "pruners/global/GlobalPruner.h"
#include "pruners/magnitude/MagnitudePruner.h"
#include "tests/pruners/TinyPruneSetup.h"
#include "tests/support/Assertions.h"
#include "tests/support/RunFixture.h"

namespace prunelab::pruners {
namespace {

using prunelab::testing::errorOf;
using prunelab::testing::TinyPruneSetup;
using prunelab::testing::zerosOf;

// The value of metric `key` at `step`; fails the test when it is missing.
double metricAt(const prune::PruneResult& r, const std::string& key, std::int64_t step) {
  for (const auto& m : r.metrics)
    if (m.key == key && m.step == step) return m.value;
  ADD_FAILURE() << "no metric " << key << " at step " << step;
  return std::nan("");
}

GlobalPruner::Options smallOptions(const std::string& score, const std::string& scope, double sparsity,
                                   std::int64_t iterations) {
  GlobalPruner::Options o;
  o.score = score;
  o.scope = scope;
  o.sparsity = sparsity;
  o.iterations = iterations;
  o.nsamples = 16;
  o.batch_size = 4;
  o.validate();
  return o;
}

// The documented rule written out plainly, for an independent golden mask: per round, the
// statistics of .grad after backward() on every batch, the scores of every target of a ranking
// concatenated, weights pruned in an earlier round first, then the smallest scores, ties in target
// then flat index order (a stable sort), until exactly round(p·N) are pruned; the masks are
// applied before the next round's backward passes. Returns the keep masks.
std::vector<torch::Tensor> referenceMasks(testing::TinyBlockModel& m, const std::vector<model::Batch>& batches,
                                          const std::string& score, const std::string& scope, double s, int n) {
  auto targets = prune::selectTargets(m.linears(), {"*.blocks.*"});
  std::vector<torch::Tensor> keep(targets.size());
  for (int round = 1; round <= n; ++round) {
    const double p = std::pow(s, static_cast<double>(n) / round);
    std::vector<torch::Tensor> acc(targets.size());
    for (const auto& b : batches) {
      for (auto& prm : m.module().parameters()) prm.mutable_grad() = torch::Tensor();
      m.loss(b).backward();
      for (std::size_t k = 0; k < targets.size(); ++k) {
        const auto g = targets[k].layer->weight.grad();
        const auto term = score == "gradient" ? g.abs() : g * g;
        acc[k] = acc[k].defined() ? acc[k] + term : term;
      }
    }
    for (auto& prm : m.module().parameters()) prm.mutable_grad() = torch::Tensor();
    torch::NoGradGuard noGrad;
    std::map<std::string, std::vector<std::size_t>> rankings;
    for (std::size_t k = 0; k < targets.size(); ++k)
      rankings[scope == "all" ? std::string("all") : targets[k].modality].push_back(k);
    for (const auto& [name, members] : rankings) {
      std::vector<float> values;
      std::vector<bool> wasPruned;
      for (std::size_t k : members) {
        const auto w = targets[k].layer->weight.detach();
        const auto mean = acc[k] / static_cast<double>(batches.size());
        const auto sc = (score == "gradient" ? w.abs() * mean : w * w * mean).contiguous();
        const auto before = keep[k].defined() ? keep[k].contiguous() : torch::ones_like(sc, torch::kBool);
        for (std::int64_t j = 0; j < sc.numel(); ++j) {
          values.push_back(sc.data_ptr<float>()[j]);
          wasPruned.push_back(!before.data_ptr<bool>()[j]);
        }
      }
      std::vector<std::size_t> order(values.size());
      std::iota(order.begin(), order.end(), std::size_t{0});
      std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        if (wasPruned[a] != wasPruned[b]) return static_cast<bool>(wasPruned[a]);
        return values[a] < values[b];
      });
      const auto k = static_cast<std::size_t>(std::llround(p * static_cast<double>(values.size())));
      std::vector<bool> pruned(values.size(), false);
      for (std::size_t j = 0; j < k; ++j) pruned[order[j]] = true;
      std::size_t offset = 0;
      for (std::size_t t : members) {
        auto& w = targets[t].layer->weight;
        auto mask = torch::ones({w.numel()}, torch::kBool);
        for (std::int64_t j = 0; j < w.numel(); ++j) mask.data_ptr<bool>()[j] = !pruned[offset + j];
        offset += static_cast<std::size_t>(w.numel());
        keep[t] = mask.reshape(w.sizes());
        w.mul_(keep[t].to(w.dtype()));
      }
    }
  }
  return keep;
}

// The pruner against referenceMasks on a second copy of the same seeded model and the same
// calibration batches.
void expectReferenceMasks(const std::string& score, const std::string& scope, double s, int n) {
  TinyPruneSetup a(6, 2, 11), b(6, 2, 11);
  const auto o = smallOptions(score, scope, s, n);
  GlobalPruner(o).prune(a.ctx);
  const auto batches = prune::calibrationBatches(b.data, {o.calib_split, o.nsamples, o.batch_size, 0});
  const auto expected = referenceMasks(b.model, batches, score, scope, s, n);
  const auto targets = a.targets();
  ASSERT_EQ(targets.size(), expected.size());
  std::int64_t differ = 0;
  for (std::size_t k = 0; k < targets.size(); ++k)
    differ += ((targets[k].layer->weight.detach() != 0) != expected[k]).sum().item<std::int64_t>();
  EXPECT_EQ(differ, 0) << score << " " << scope << " s=" << s << " n=" << n;
}

TEST(GlobalPruner, OneRoundGradientMasksEqualAHandComputedRanking) { expectReferenceMasks("gradient", "all", 0.5, 1); }

TEST(GlobalPruner, IterativeMasksEqualTheReferenceLoop) {
  expectReferenceMasks("gradient", "all", 0.6, 3);
  expectReferenceMasks("gradient", "modality", 0.7, 3);
  expectReferenceMasks("fisher", "modality", 0.5, 2);
}

TEST(GlobalPruner, ScopeAllRemovesRoundSNAndFollowsTheSchedule) {
  TinyPruneSetup t(8, 2, 3);
  const auto r = GlobalPruner(smallOptions("gradient", "all", 0.6, 3)).prune(t.ctx);
  std::int64_t zeros = 0, total = 0;
  for (const auto& l : t.targets()) {
    zeros += zerosOf(l);
    total += l.layer->weight.numel();
  }
  ASSERT_EQ(total, 4 * 2 * 128);
  EXPECT_EQ(zeros, std::llround(0.6 * static_cast<double>(total)));
  // p_i = s^(n/i): 0.6³, 0.6^1.5, 0.6.
  const double schedule[] = {0.216, 0.46475800154489, 0.6};
  double previous = 0;
  for (int i = 1; i <= 3; ++i) {
    const double p = schedule[i - 1];
    EXPECT_NEAR(metricAt(r, "prune/targets/global/scheduled_sparsity", i), p, 1e-12) << i;
    const double achieved = metricAt(r, "prune/targets/global/achieved_sparsity", i);
    EXPECT_DOUBLE_EQ(achieved, static_cast<double>(std::llround(p * static_cast<double>(total))) / total) << i;
    EXPECT_GT(achieved, previous);
    previous = achieved;
  }
  ASSERT_EQ(r.layers.size(), t.targets().size());
  double recorded = 0;
  for (const auto& l : r.layers) recorded += l.achievedSparsity * static_cast<double>(l.numel);
  EXPECT_NEAR(recorded, static_cast<double>(zeros), 1e-6);
}

TEST(GlobalPruner, ScopeModalityPrunesEachModalityToTheTarget) {
  TinyPruneSetup t(8, 2, 4);
  const auto r = GlobalPruner(smallOptions("gradient", "modality", 0.55, 3)).prune(t.ctx);
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> counts;
  for (const auto& l : t.targets()) {
    counts[l.modality].first += zerosOf(l);
    counts[l.modality].second += l.layer->weight.numel();
  }
  ASSERT_EQ(counts.size(), 2u);
  for (const auto& [modality, c] : counts) {
    const auto k = std::llround(0.55 * static_cast<double>(c.second));
    EXPECT_EQ(c.first, k) << modality;
    EXPECT_DOUBLE_EQ(metricAt(r, "prune/" + modality + "/global/achieved_sparsity", 3),
                     static_cast<double>(k) / static_cast<double>(c.second));
  }
}

// Language weights ten times larger: one ranking over both modalities (magnitude) takes nearly all
// its pruning from vision; one ranking per modality still gives each exactly s.
TEST(GlobalPruner, OneRankingFavoursTheLargerModalityWhereThePerModalityOneDoesNot) {
  auto run = [](const std::string& scope) {
    TinyPruneSetup t(8, 2, 5);
    {
      torch::NoGradGuard noGrad;
      for (auto& l : t.targets())
        if (l.modality == "language") l.layer->weight.mul_(10.0);
    }
    const auto r = GlobalPruner(smallOptions("magnitude", scope, 0.5, 1)).prune(t.ctx);
    std::int64_t zeros = 0, total = 0;
    for (const auto& l : t.targets()) {
      if (l.modality != "vision") continue;
      zeros += zerosOf(l);
      total += l.layer->weight.numel();
    }
    return static_cast<double>(zeros) / static_cast<double>(total);
  };
  EXPECT_GT(run("all"), 0.85);
  EXPECT_DOUBLE_EQ(run("modality"), 0.5);
}

// |W| changes only where a round prunes, so three rounds of magnitude end where one global
// magnitude ranking does: the magnitude pruner's masks, bit for bit.
TEST(GlobalPruner, MagnitudeScoreGivesTheMagnitudePrunersGlobalMasks) {
  TinyPruneSetup a(8, 2, 6), b(8, 2, 6);
  const auto ra = GlobalPruner(smallOptions("magnitude", "all", 0.7, 3)).prune(a.ctx);
  MagnitudePruner::Options mo;
  mo.sparsity = 0.7;
  mo.allocation = "global";
  const auto rb = MagnitudePruner(mo).prune(b.ctx);
  ASSERT_EQ(ra.layers.size(), rb.layers.size());
  std::int64_t pruned = 0;
  for (std::size_t i = 0; i < ra.layers.size(); ++i) {
    EXPECT_EQ(ra.layers[i].name, rb.layers[i].name);
    EXPECT_EQ(ra.layers[i].maskSha256, rb.layers[i].maskSha256) << ra.layers[i].name;
    pruned += std::llround(ra.layers[i].achievedSparsity * static_cast<double>(ra.layers[i].numel));
  }
  EXPECT_EQ(pruned, std::llround(0.7 * 4 * 2 * 128));
  // A magnitude run draws no calibration batches and opens no "scores" stage.
  std::vector<std::string> stages;
  for (const auto& s : a.profiler.records()) stages.push_back(s.stage);
  EXPECT_EQ(stages, (std::vector<std::string>{"select", "select", "select"}));
}

// Column 0 of vision fc2 is zero in the dense model, so row 0 of vision fc1 gets no gradient: 4
// live weights score exactly 0 beside 4 weights that are already zero. With k = round(0.05·128) = 6
// the zeros must be pruned first (or the count of zero weights would exceed k), then 2 of the
// live zero scores in index order.
TEST(GlobalPruner, WeightsThatAreAlreadyZeroArePrunedBeforeLiveZeroScores) {
  TinyPruneSetup t(4, 1, 9);
  auto targets = t.targets();
  ASSERT_EQ(targets[1].name, "vision.blocks.0.mlp.fc2");
  {
    torch::NoGradGuard noGrad;
    targets[1].layer->weight.select(1, 0).zero_();
  }
  const auto r = GlobalPruner(smallOptions("gradient", "all", 0.05, 1)).prune(t.ctx);
  std::int64_t zeros = 0;
  for (const auto& l : targets) zeros += zerosOf(l);
  EXPECT_EQ(zeros, 6);
  EXPECT_EQ(zerosOf(targets[1]), 4);
  const auto fc1Row0 = targets[0].layer->weight.detach().select(0, 0);
  EXPECT_EQ((fc1Row0 == 0).sum().item<std::int64_t>(), 2);
  EXPECT_TRUE((fc1Row0.slice(0, 0, 2) == 0).all().item<bool>()) << "ties go in flat index order";
  EXPECT_DOUBLE_EQ(metricAt(r, "prune/targets/global/achieved_sparsity", 1), 6.0 / 128.0);
}

TEST(GlobalPruner, StagesPerRound) {
  TinyPruneSetup t(4, 1, 7);
  GlobalPruner(smallOptions("fisher", "all", 0.5, 2)).prune(t.ctx);
  std::vector<std::string> stages;
  for (const auto& s : t.profiler.records()) stages.push_back(s.stage);
  EXPECT_EQ(stages, (std::vector<std::string>{"calibrate", "scores", "select", "scores", "select"}));
}

TEST(GlobalPruner, SparsityZeroPrunesNothingAndComputesNothing) {
  TinyPruneSetup t(4, 1, 8);
  const auto r = GlobalPruner(smallOptions("gradient", "all", 0.0, 3)).prune(t.ctx);
  for (const auto& l : t.targets()) EXPECT_EQ(zerosOf(l), 0) << l.name;
  EXPECT_EQ(r.layers.size(), t.targets().size());
  EXPECT_TRUE(t.profiler.records().empty());
}

TEST(GlobalPruner, OptionsAreCheckedWithTheFix) {
  GlobalPruner::Options o;
  o.validate();
  auto bad = [&](auto change) {
    auto copy = o;
    change(copy);
    return errorOf([&] { copy.validate(); });
  };
  EXPECT_CONTAINS(bad([](auto& c) { c.sparsity = 1.0; }), "sparsity must be in [0, 1)");
  EXPECT_CONTAINS(bad([](auto& c) { c.iterations = 0; }), "iterations must be >= 1");
  EXPECT_CONTAINS(bad([](auto& c) { c.scope = "modalty"; }), "did you mean 'modality'");
  EXPECT_CONTAINS(bad([](auto& c) { c.score = "fishr"; }), "did you mean 'fisher'");
  EXPECT_CONTAINS(bad([](auto& c) { c.targets = {}; }), "targets must list at least one glob");
  EXPECT_CONTAINS(bad([](auto& c) { c.nsamples = 0; }), "nsamples must be positive");
  EXPECT_EQ(bad([](auto& c) { c.score = "magnitude", c.nsamples = 0; }), "<no error>");
}

class GlobalPrunerRunTest : public testing::TinyRunTest {};

// The preset end to end on the tiny MLP (one modality, 25088 + 512 weights).
TEST_F(GlobalPrunerRunTest, PresetRunsAndRecordsItsRounds) {
  auto r = run({"pruner=global_gradient", "pruner.nsamples=8"});
  ASSERT_EQ(r.status, store::RunStatus::Finished) << r.error;
  auto m = store_.metrics(r.runId);
  EXPECT_DOUBLE_EQ(m["prune/targets/all/achieved_sparsity"], 0.5);
  EXPECT_DOUBLE_EQ(m["prune/vision/global/achieved_sparsity"], 0.5);
  EXPECT_DOUBLE_EQ(m["prune/vision/global/scheduled_sparsity"], 0.5);
  std::vector<std::string> stages;
  for (const auto& s : store_.stages(r.runId)) stages.push_back(s.stage);
  for (const char* s : {"calibrate", "scores", "select"})
    EXPECT_NE(std::find(stages.begin(), stages.end(), s), stages.end()) << s;
  EXPECT_CONTAINS(
      errorOf([&] {
        run::prepareJob(composer_, overrides({"pruner=global_gradient", "pruner.scope=per_model"}), registries_);
      }),
      "scope 'per_model' is not supported");
}

}  // namespace
}  // namespace prunelab::pruners
