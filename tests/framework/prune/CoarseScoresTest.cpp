#include <gtest/gtest.h>

#include <limits>

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>

#include "framework/prune/CoarseScores.h"
#include "tests/support/Assertions.h"
#include "tests/support/TinyBlockModel.h"

namespace prunelab::prune {
namespace {

using prunelab::testing::errorOf;
using prunelab::testing::randomBatches;
using prunelab::testing::TinyBlockModel;

std::vector<torch::Tensor> snapshot(model::Model& m) {
  std::vector<torch::Tensor> out;
  for (const auto& p : m.module().parameters()) out.push_back(p.detach().clone());
  return out;
}

bool bitEqual(model::Model& m, const std::vector<torch::Tensor>& before) {
  auto params = m.module().parameters();
  if (params.size() != before.size()) return false;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const auto a = params[i].detach().contiguous(), b = before[i].contiguous();
    if (a.sizes() != b.sizes() ||
        std::memcmp(a.data_ptr(), b.data_ptr(), static_cast<std::size_t>(a.numel()) * a.element_size()) != 0)
      return false;
  }
  return true;
}

double maxRelativeDiff(const std::vector<double>& a, const std::vector<double>& b) {
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, std::fabs(a[i] - b[i]) / std::max(std::fabs(b[i]), 1e-30));
  return worst;
}

// The largest difference a joined (paired or grouped) suffix forward may make to a score. Its
// losses are the separate forwards' up to the last bits: a BLAS picks its kernel, and so its
// summation order, by matrix size (OpenBLAS's small-matrix and generic kernels round
// differently), and |L+ − L−|/2ε magnifies a loss's rounding by 1/2ε. Bound: 8 ulp of each
// of the two losses, per batch.
double roundoffBound(model::Model& m, const std::vector<model::Batch>& batches, double eps) {
  torch::NoGradGuard noGrad;
  double bound = 0;
  for (const auto& b : batches)
    bound += 2 * 8 * std::fabs(m.loss(b).item<double>()) * std::numeric_limits<float>::epsilon() / (2 * eps);
  return bound;
}

double maxAbsDiff(const std::vector<double>& a, const std::vector<double>& b) {
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst;
}

// Average ranks (ties share the mean of their positions), then Pearson on the ranks.
std::vector<double> ranks(const std::vector<double>& x) {
  std::vector<std::size_t> order(x.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return x[a] < x[b]; });
  std::vector<double> r(x.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && x[order[j + 1]] == x[order[i]]) ++j;
    for (std::size_t k = i; k <= j; ++k) r[order[k]] = 0.5 * static_cast<double>(i + j);
    i = j + 1;
  }
  return r;
}

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  const auto ra = ranks(a), rb = ranks(b);
  const double n = static_cast<double>(ra.size());
  const double ma = std::accumulate(ra.begin(), ra.end(), 0.0) / n, mb = std::accumulate(rb.begin(), rb.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < ra.size(); ++i) {
    sab += (ra[i] - ma) * (rb[i] - mb);
    saa += (ra[i] - ma) * (ra[i] - ma);
    sbb += (rb[i] - mb) * (rb[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

TEST(CoarseScores, SpearmanHelperOnKnownRanks) {
  EXPECT_DOUBLE_EQ(spearman({1, 2, 3, 4}, {10, 20, 30, 40}), 1.0);
  EXPECT_DOUBLE_EQ(spearman({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0);
  // Ranks [0, 1.5, 1.5, 3] vs [0, 1, 2, 3]: Σd·d = 4.5+... computed by hand: r = 4.5/sqrt(4.5·5).
  EXPECT_NEAR(spearman({1, 2, 2, 3}, {1, 2, 3, 4}), 4.5 / std::sqrt(4.5 * 5.0), 1e-12);
}

TEST(CoarseScores, NoiseIsRegeneratedFromSeedNameAndBatch) {
  const auto a = zerothOrderNoise("vision.blocks.0.mlp.fc1", {3, 4}, 7, 2);
  EXPECT_TRUE(torch::equal(a, zerothOrderNoise("vision.blocks.0.mlp.fc1", {3, 4}, 7, 2)));
  EXPECT_FALSE(torch::equal(a, zerothOrderNoise("vision.blocks.0.mlp.fc1", {3, 4}, 7, 3)));
  EXPECT_FALSE(torch::equal(a, zerothOrderNoise("vision.blocks.0.mlp.fc2", {3, 4}, 7, 2)));
  EXPECT_FALSE(torch::equal(a, zerothOrderNoise("vision.blocks.0.mlp.fc1", {3, 4}, 8, 2)));
  EXPECT_EQ(a.scalar_type(), torch::kFloat);
}

// Both stacks, a target outside any block (bridge.proj), several batches.
TEST(CoarseScores, ZerothFastEqualsReferenceAndRestoresWeightsBitExactly) {
  TinyBlockModel m(6, 3, 1);
  const auto batches = randomBatches(4, 5, 6, 11);
  const auto targets = m.linears();
  const auto before = snapshot(m);

  ZerothOrderOptions o;
  o.seed = 3;
  o.fast = false;
  const auto reference = zerothOrderScores(m, batches, targets, o);
  EXPECT_TRUE(bitEqual(m, before)) << "reference mode must restore every weight bit for bit";
  for (std::size_t i = 0; i < targets.size(); ++i) EXPECT_GT(reference[i], 0) << targets[i].name;

  o.fast = true;
  o.pair = false;
  const auto fast = zerothOrderScores(m, batches, targets, o);
  EXPECT_TRUE(bitEqual(m, before));
  const double unpaired = maxRelativeDiff(fast, reference);
  EXPECT_LE(unpaired, 1e-5);

  // Joined forwards: equal up to the rounding of a larger matrix product (0 where the BLAS keeps
  // the per-row order, e.g. OpenBLAS's Haswell kernels; 7e-5 relative with its Prescott ones).
  const double bound = roundoffBound(m, batches, o.eps);
  o.pair = true;
  const auto paired = zerothOrderScores(m, batches, targets, o);
  EXPECT_TRUE(bitEqual(m, before));
  const double pairedDiff = maxRelativeDiff(paired, reference);
  EXPECT_LE(maxAbsDiff(paired, reference), bound);
  // The pairs of several matrices of a block in one suffix forward (a TinyBlockModel block has 2
  // matrices: group 2 takes a whole block, 3 and 8 more than there is).
  for (std::int64_t group : {2, 3, 8}) {
    o.group = group;
    const auto grouped = zerothOrderScores(m, batches, targets, o);
    EXPECT_TRUE(bitEqual(m, before));
    EXPECT_LE(maxAbsDiff(grouped, reference), bound) << "group " << group;
  }
  // Suffixes side by side on threads (waves of up to `threads` groups of one block; 3 threads
  // meet blocks of 2 groups, so a wave is cut short). OpenBLAS is single-threaded for every
  // thread count above 1, so 2 and 3 threads run the very same operations: equal bit for bit.
  for (std::int64_t group : {1, 2}) {
    o.group = group;
    std::vector<std::vector<double>> byThreads;
    for (std::int64_t threads : {2, 3}) {
      o.threads = threads;
      byThreads.push_back(zerothOrderScores(m, batches, targets, o));
      EXPECT_TRUE(bitEqual(m, before)) << "threads " << threads;
      EXPECT_LE(maxAbsDiff(byThreads.back(), reference), bound) << "group " << group << ", threads " << threads;
    }
    EXPECT_EQ(byThreads[0], byThreads[1]) << "group " << group;
  }
  o.threads = 1;
  double smallest = reference[0];
  for (double r : reference) smallest = std::min(smallest, r);
  EXPECT_LT(bound, 0.01 * smallest) << "the bound must stay far below every score for the test to mean anything";
  std::printf("[ info ] zeroth fast vs reference, max relative difference: unpaired %.3g, paired %.3g (bound %.3g "
              "absolute, %.3g of the smallest score)\n",
              unpaired, pairedDiff, bound, bound / smallest);
}

TEST(CoarseScores, ZerothScoresDependOnTheSeedButNotOnTheTargetList) {
  TinyBlockModel m(4, 2, 2);
  const auto batches = randomBatches(2, 4, 4, 5);
  const auto all = m.linears();
  ZerothOrderOptions o;
  o.seed = 1;
  const auto a = zerothOrderScores(m, batches, all, o);
  const std::vector<model::LinearRef> one = {all[2]};
  EXPECT_EQ(zerothOrderScores(m, batches, one, o)[0], a[2]) << "the noise of a matrix is keyed by its name";
  o.seed = 2;
  EXPECT_NE(zerothOrderScores(m, batches, all, o)[2], a[2]);
}

// A model that has no lossFromBlock: the fast mode must say what to do, the reference must work.
class NoResumeModel : public model::Model {
 public:
  void prepare(const model::ModelContext&) override {}
  std::vector<model::StackInfo> stacks() const override { return inner_.stacks(); }
  std::vector<model::LinearRef> linears() override { return inner_.linears(); }
  torch::nn::Module& module() override { return inner_.module(); }
  torch::Tensor loss(const model::Batch& b) override { return inner_.loss(b); }
  model::Batch stackInputs(const std::string& s, const model::Batch& b) override { return inner_.stackInputs(s, b); }
  model::Batch forwardBlock(const std::string& s, int i, const model::Batch& st) override {
    return inner_.forwardBlock(s, i, st);
  }
  std::string weightsId() const override { return "no-resume"; }

 private:
  TinyBlockModel inner_{4, 1, 0};
};

TEST(CoarseScores, FastModeOnAModelThatCannotResumeSaysToUseReference) {
  NoResumeModel m;
  const auto batches = randomBatches(1, 3, 4, 1);
  ZerothOrderOptions o;
  const auto before = snapshot(m);
  EXPECT_CONTAINS(errorOf([&] { zerothOrderScores(m, batches, m.linears(), o); }), "use zeroth mode=reference");
  EXPECT_TRUE(bitEqual(m, before)) << "a failed perturbation must still restore the weight";
  o.fast = false;
  for (double s : zerothOrderScores(m, batches, m.linears(), o)) EXPECT_GT(s, 0);
}

TEST(CoarseScores, NonFiniteLossNamesTheMatrix) {
  TinyBlockModel m(4, 1, 0);
  auto batches = randomBatches(1, 3, 4, 1);
  batches[0].set("inputs", torch::full({3, 4}, std::numeric_limits<float>::infinity()));
  ZerothOrderOptions o;
  const auto msg = errorOf([&] { zerothOrderScores(m, batches, m.linears(), o); });
  EXPECT_CONTAINS(msg, "'vision.blocks.0.mlp.fc1'");
  EXPECT_CONTAINS(msg, "pruner.coarse.eps");
  EXPECT_CONTAINS(errorOf([&] { firstOrderScores(m, batches, m.linears()); }), "loss is");
}

// First order, checked against plain backward() and .grad on the same batches.
TEST(CoarseScores, FirstOrderMatchesBackward) {
  TinyBlockModel m(3, 1, 4);
  const auto batches = randomBatches(3, 4, 3, 9);
  const auto targets = m.linears();
  const auto got = firstOrderScores(m, batches, targets);

  const std::size_t n = targets.size();
  std::vector<torch::Tensor> sumAbs(n), sumSq(n);
  std::vector<double> norms(n, 0.0);
  for (const auto& b : batches) {
    for (auto& p : m.module().parameters()) p.mutable_grad() = torch::Tensor();
    m.loss(b).backward();
    for (std::size_t i = 0; i < n; ++i) {
      auto g = targets[i].layer->weight.grad().clone();
      sumAbs[i] = sumAbs[i].defined() ? sumAbs[i] + g.abs() : g.abs();
      sumSq[i] = sumSq[i].defined() ? sumSq[i] + g * g : g * g;
      norms[i] += g.norm().item<double>();
    }
  }
  for (auto& p : m.module().parameters()) p.mutable_grad() = torch::Tensor();
  for (std::size_t i = 0; i < n; ++i) {
    const auto w = targets[i].layer->weight.detach();
    const double gradient = (w.abs() * sumAbs[i] / 3.0).sum().item<double>();
    const double fisher = (w * w * sumSq[i] / 3.0).sum().item<double>();
    EXPECT_NEAR(got.gradient[i], gradient, 1e-6 * gradient) << targets[i].name;
    EXPECT_NEAR(got.fisher[i], fisher, 1e-6 * fisher) << targets[i].name;
    EXPECT_NEAR(got.gradNorm[i], norms[i], 1e-6 * norms[i]) << targets[i].name;
    EXPECT_GT(gradient, 0);
  }
  EXPECT_TRUE(targets[0].layer->weight.requires_grad());
}

// A hand-sized case: one block, dim 1, batch of one, so every derivative can be written out.
// fc1: 1 -> 2 (w1 = [a, b], bias c), fc2: 2 -> 1 (w2 = [p, q], bias r); the block is
// h = x + p·gelu(a·x + c0) + q·gelu(b·x + c1) + r, loss = h². dL/dw2 = 2h·[gelu(u0), gelu(u1)].
TEST(CoarseScores, FirstOrderGradientByHand) {
  TinyBlockModel m(1, 1, 0);
  auto targets = m.linears();
  const auto& fc2 = targets[1];
  ASSERT_EQ(fc2.name, "vision.blocks.0.mlp.fc2");
  model::Batch b;
  b.set("inputs", torch::tensor({{0.7f}}));
  const auto got = firstOrderScores(m, {b}, targets);

  // The hand computation, through both stacks (vision block, bridge, language block).
  torch::NoGradGuard noGrad;
  auto gelu = [](double u) { return 0.5 * u * (1.0 + std::erf(u / std::sqrt(2.0))); };
  auto block = [&](const model::LinearRef& f1, const model::LinearRef& f2, double x, double* g0, double* g1) {
    const auto w1 = f1.layer->weight, b1 = f1.layer->bias, w2 = f2.layer->weight, b2 = f2.layer->bias;
    const double u0 = w1[0][0].item<double>() * x + b1[0].item<double>();
    const double u1 = w1[1][0].item<double>() * x + b1[1].item<double>();
    if (g0) *g0 = gelu(u0), *g1 = gelu(u1);
    return x + w2[0][0].item<double>() * gelu(u0) + w2[0][1].item<double>() * gelu(u1) + b2[0].item<double>();
  };
  double g0 = 0, g1 = 0;
  const double v = block(targets[0], targets[1], 0.7, &g0, &g1);
  const auto& bridge = targets[2];
  const double y = bridge.layer->weight[0][0].item<double>() * v + bridge.layer->bias[0].item<double>();
  // dL/dv through the bridge and the language block, by a central difference in double (smooth).
  auto lossOfV = [&](double vv) {
    const double yy = bridge.layer->weight[0][0].item<double>() * vv + bridge.layer->bias[0].item<double>();
    const double h = block(targets[3], targets[4], yy, nullptr, nullptr);
    return h * h;
  };
  (void)y;
  const double dv = 1e-5;
  const double dLdv = (lossOfV(v + dv) - lossOfV(v - dv)) / (2 * dv);
  const double p = fc2.layer->weight[0][0].item<double>(), q = fc2.layer->weight[0][1].item<double>();
  const double expected = std::fabs(p) * std::fabs(dLdv * g0) + std::fabs(q) * std::fabs(dLdv * g1);
  EXPECT_NEAR(got.gradient[1], expected, 1e-4 * expected);
  EXPECT_NEAR(got.gradNorm[1], std::fabs(dLdv) * std::sqrt(g0 * g0 + g1 * g1), 1e-4 * std::fabs(dLdv));
}

// The zeroth-order score estimates √(2/π)·Σ_b ‖∇L_b‖: on a briefly trained model its block
// ranking should follow the first-order gradient norms.
TEST(CoarseScores, ZerothBlockScoresFollowFirstOrderGradientNorms) {
  TinyBlockModel m(8, 5, 21);
  {
    // Scale the blocks apart, then a few SGD steps, so gradient norms differ between blocks.
    torch::NoGradGuard noGrad;
    int k = 0;
    for (auto& t : m.linears()) t.layer->weight.mul_(0.4 + 0.25 * (k++ % 5));
  }
  torch::optim::SGD sgd(m.module().parameters(), torch::optim::SGDOptions(0.05));
  for (const auto& b : randomBatches(20, 16, 8, 100)) {
    sgd.zero_grad();
    m.loss(b).backward();
    sgd.step();
  }
  sgd.zero_grad();
  const auto batches = randomBatches(16, 16, 8, 7);
  auto targets = m.linears();
  targets.erase(std::remove_if(targets.begin(), targets.end(), [](const auto& t) { return t.block < 0; }),
                targets.end());
  ZerothOrderOptions o;
  o.seed = 5;
  const auto zeroth = zerothOrderScores(m, batches, targets, o);
  const auto first = firstOrderScores(m, batches, targets);
  auto blockSums = [&](const std::vector<double>& s) {
    std::vector<double> out;
    for (const auto& g : groupMatrices(matrixEntries(targets, s), Granularity::Block).groups) out.push_back(g.score);
    return out;
  };
  const double rho = spearman(blockSums(zeroth), blockSums(first.gradNorm));
  const double rhoMatrix = spearman(zeroth, first.gradNorm);
  std::printf(
      "[ info ] Spearman(zeroth block scores, first-order gradient norms) = %.3f over 10 blocks "
      "(per matrix: %.3f over 20)\n",
      rho, rhoMatrix);
  EXPECT_GT(rho, 0.7);
}

// localScores against the saliencies computed from the targets' inputs in a plain dense forward
// (captured through each PrunableLinear's observer): Σ|W|, Σ|W|·‖X_j‖ and Σ w²/d².
TEST(CoarseScores, LocalScoresSumTheFineStepSaliencyOnTheDenseModel) {
  TinyBlockModel m(4, 2, 6);
  const auto batches = randomBatches(3, 5, 4, 2);
  std::vector<model::LinearRef> targets;  // the blocks' matrices (the bridge is outside any block)
  for (auto& t : m.linears())
    if (t.name.find(".blocks.") != std::string::npos) targets.push_back(t);
  const auto before = snapshot(m);

  FineStepOptions magnitude, wanda, obs;
  magnitude.score = "magnitude";
  obs.reconstruction = "obs";
  obs.selection = "adaptive";
  std::vector<InputStatsCollector> wandaStats, obsStats;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    wandaStats.emplace_back(wanda);
    obsStats.emplace_back(obs);
  }
  for (std::size_t i = 0; i < targets.size(); ++i)
    targets[i].layer->setObserver([&, i](const torch::Tensor& x) {
      wandaStats[i].add(x.detach());
      obsStats[i].add(x.detach());
    });
  {
    torch::NoGradGuard noGrad;
    for (const auto& b : batches) m.loss(b);
  }
  for (auto& t : targets) t.layer->setObserver({});

  const auto gotMagnitude = localScores(m, {}, targets, magnitude);
  const auto gotWanda = localScores(m, batches, targets, wanda);
  const auto gotObs = localScores(m, batches, targets, obs);
  EXPECT_TRUE(bitEqual(m, before)) << "localScores must not prune or modify any weight";
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const auto w = targets[i].layer->weight.detach();
    const double mag = w.abs().sum().item<double>();
    const auto ws = wandaStats[i].stats(targets[i].name);
    const double wan = (w.abs() * ws.sqNorms.sqrt().unsqueeze(0)).sum().item<double>();
    const double sg =
        sparseGptSaliency(w, obsStats[i].stats(targets[i].name).hessian, obs.sparseGpt()).sum().item<double>();
    EXPECT_NEAR(gotMagnitude[i], mag, 1e-6 * mag) << targets[i].name;
    EXPECT_NEAR(gotWanda[i], wan, 1e-5 * wan) << targets[i].name;
    EXPECT_NEAR(gotObs[i], sg, 1e-5 * sg) << targets[i].name;
    EXPECT_GT(gotObs[i], 0) << targets[i].name;
  }
  EXPECT_NE(errorOf([&] { localScores(m, {}, targets, wanda); }).find("calibration batches"), std::string::npos);
}

// sparseGptSaliency by hand: d_j is the diagonal of U with UᵀU = (H + λI)⁻¹, λ = 0.01·mean diag H,
// computed here in fp64 through an explicit inverse; a dead input (H_jj = 0) scores 0.
TEST(CoarseScores, SparseGptSaliencyByHand) {
  auto gen = at::detail::createCPUGenerator(5);
  auto x = torch::randn({20, 6}, gen, torch::kDouble);
  x.select(1, 3).zero_();
  auto h = (2.0 / 20.0) * x.t().mm(x);
  auto w = torch::randn({3, 6}, gen, torch::kFloat);
  SparseGptOptions o;
  const auto got = sparseGptSaliency(w, h.to(torch::kFloat), o);

  auto hd = h.clone();
  hd.diagonal().index_put_({3}, 1.0);
  hd.diagonal().add_(0.01 * hd.diagonal().mean());
  // UᵀU = H⁻¹ with U upper triangular: U = Lᵀ for the Cholesky factor L·Lᵀ = H⁻¹.
  const auto inv = torch::inverse(hd);
  const auto u = torch::linalg_cholesky(inv).t();
  ASSERT_TRUE(torch::allclose(u.t().mm(u), inv, 1e-9, 1e-12));
  ASSERT_TRUE(torch::allclose(u.triu(), u));
  auto wd = w.to(torch::kDouble).clone();
  wd.select(1, 3).zero_();
  const auto expected = wd.square() / u.diagonal().square().unsqueeze(0);
  EXPECT_TRUE(torch::allclose(got.to(torch::kDouble), expected, 1e-4, 1e-7)) << got << expected;
  EXPECT_EQ(got.select(1, 3).abs().sum().item<double>(), 0.0);
}

TEST(CoarseScores, OptionsAndNamesAreChecked) {
  CoarseOptions o;
  o.validate();
  o.order = "second";
  EXPECT_CONTAINS(errorOf([&] { o.validate(); }), "coarse.order 'second' is not supported");
  o.order = "first";
  o.eps = 0;
  EXPECT_CONTAINS(errorOf([&] { o.validate(); }), "coarse.eps must be a positive number");
  o.eps = 1e-3;
  o.threads = 0;
  EXPECT_CONTAINS(errorOf([&] { o.validate(); }), "coarse.threads must be at least 1");
  o.threads = 2;
  o.mode = "quick";
  EXPECT_CONTAINS(errorOf([&] { o.validate(); }), "'fast'");
  EXPECT_EQ(granularityFromName("layer"), Granularity::Layer);
  EXPECT_EQ(aggregateFromName("avg"), ScoreAggregate::Avg);
  EXPECT_CONTAINS(errorOf([&] { granularityFromName("blocks"); }), "did you mean");
}

}  // namespace
}  // namespace prunelab::prune
