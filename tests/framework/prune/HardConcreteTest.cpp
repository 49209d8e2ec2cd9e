#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "framework/core/Error.h"
#include "framework/core/Options.h"
#include "framework/prune/HardConcrete.h"

namespace prunelab::prune {
namespace {

// Independent double-precision versions of the spec's formulas (spec-ecoflap-efficientvlm.md §2.3),
// written from the distribution, not from HardConcrete.cpp.
constexpr double kL = -0.1, kR = 1.1, kBeta = 2.0 / 3.0;

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// P(z <= x) for x in (l, r): s̄ <= x  <=>  (L + log α)/β <= logit((x−l)/(r−l)), L ~ Logistic(0, 1).
double cdfAt(double x, double logAlpha) {
  const double xn = (x - kL) / (kR - kL);
  return sigmoid(kBeta * std::log(xn / (1 - xn)) - logAlpha);
}

double probNonZeroAt(double logAlpha) { return sigmoid(logAlpha - kBeta * std::log(-kL / kR)); }

// E[z] = ∫_0^1 P(z > x) dx by Simpson's rule (the integrand is smooth on [0, 1]).
double meanByIntegration(double logAlpha) {
  const int n = 2000;
  const double h = 1.0 / n;
  double sum = 0;
  for (int i = 0; i <= n; ++i) {
    const double w = (i == 0 || i == n) ? 1 : (i % 2 ? 4 : 2);
    sum += w * (1 - cdfAt(i * h, logAlpha));
  }
  return sum * h / 3;
}

using Shape = std::vector<std::int64_t>;

HardConcreteGates gatesWith(const Shape& shape, const torch::Tensor& logAlpha) {
  HardConcreteGates gates(shape, 0.0, HardConcreteOptions{}, at::detail::createCPUGenerator(1));
  torch::NoGradGuard noGrad;
  gates->logAlpha().copy_(logAlpha.expand(gates->logAlpha().sizes()));
  return gates;
}

const std::vector<double> kLogAlphas = {-3.0, -1.0, 0.0, 0.7, 2.0, std::log(100.0)};

TEST(HardConcreteGates, ProbNonZeroIsTheClosedForm) {
  auto gates = gatesWith({6}, torch::tensor(kLogAlphas, torch::kFloat));
  auto p = gates->probNonZero();
  for (std::size_t i = 0; i < kLogAlphas.size(); ++i)
    EXPECT_NEAR(p[i].item<double>(), probNonZeroAt(kLogAlphas[i]), 1e-6) << kLogAlphas[i];
  // log α = 0: σ(β·ln 11) = σ(1.5986) = 0.8318.
  EXPECT_NEAR(p[2].item<double>(), 0.83183, 1e-5);
  // The same number as 1 − P(z <= 0) from the CDF.
  EXPECT_TRUE(torch::allclose(p, 1 - gates->cdf(0.0)));
  EXPECT_THROW(gates->cdf(-0.2), Error);
  EXPECT_THROW(gates->cdf(1.1), Error);
}

TEST(HardConcreteGates, SamplingStatisticsMatchTheDistribution) {
  // 20000 draws per log α, in one call: every row of the group holds the same six log α values.
  const std::int64_t draws = 20000;
  auto gates = gatesWith({draws, 6}, torch::tensor(kLogAlphas, torch::kFloat));
  auto gen = at::detail::createCPUGenerator(42);
  auto z = gates->sample(gen).to(torch::kDouble);
  ASSERT_EQ(z.sizes(), (std::vector<std::int64_t>{draws, 6}));
  EXPECT_GE(z.min().item<double>(), 0.0);
  EXPECT_LE(z.max().item<double>(), 1.0);
  for (std::size_t i = 0; i < kLogAlphas.size(); ++i) {
    const double la = kLogAlphas[i];
    auto col = z.select(1, static_cast<std::int64_t>(i));
    // P(z ≠ 0) against the closed form: the fraction is binomial, tolerance 5 standard errors.
    const double p = probNonZeroAt(la);
    const double nonZero = (col != 0).to(torch::kDouble).mean().item<double>();
    EXPECT_NEAR(nonZero, p, 5 * std::sqrt(p * (1 - p) / draws) + 1e-4) << "log α = " << la;
    // The atom at 1: P(z = 1) = 1 − P(s̄ < 1).
    const double p1 = 1 - cdfAt(1.0, la);
    const double ones = (col == 1).to(torch::kDouble).mean().item<double>();
    EXPECT_NEAR(ones, p1, 5 * std::sqrt(p1 * (1 - p1) / draws) + 1e-4) << "log α = " << la;
    // E[z] against numerical integration of the hard-concrete distribution.
    const double mean = col.mean().item<double>(), sd = col.std().item<double>();
    EXPECT_NEAR(mean, meanByIntegration(la), 5 * sd / std::sqrt(double(draws)) + 1e-4) << "log α = " << la;
  }
}

TEST(HardConcreteGates, SamplingIsSeededAndDifferentiable) {
  auto gates = gatesWith({3, 4}, torch::tensor({-1.0f, 0.0f, 1.0f, 2.0f}));
  auto a = gates->sample(at::detail::createCPUGenerator(7));
  auto b = gates->sample(at::detail::createCPUGenerator(7));
  auto c = gates->sample(at::detail::createCPUGenerator(8));
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_FALSE(torch::equal(a, c));
  // One generator gives a fresh draw on each call.
  auto gen = at::detail::createCPUGenerator(7);
  EXPECT_TRUE(torch::equal(gates->sample(gen), a));
  EXPECT_FALSE(torch::equal(gates->sample(gen), a));

  auto z = gates->sample(at::detail::createCPUGenerator(3));
  z.sum().backward();
  auto grad = gates->logAlpha().grad();
  ASSERT_TRUE(grad.defined());
  EXPECT_TRUE(torch::isfinite(grad).all().item<bool>());
  // Gates strictly inside (0, 1) pass a positive gradient to their log α; clamped ones pass none.
  auto inside = (z > 0) & (z < 1);
  ASSERT_TRUE(inside.any().item<bool>());
  EXPECT_TRUE((grad.masked_select(inside) > 0).all().item<bool>());
  EXPECT_TRUE((grad.masked_select(~inside) == 0).all().item<bool>());
}

TEST(HardConcreteGates, InitialisationAndClamping) {
  const Shape shape = {6, 12};
  HardConcreteGates heads(shape, kHeadLogAlphaInit, HardConcreteOptions{}, at::detail::createCPUGenerator(0));
  HardConcreteGates again(shape, kHeadLogAlphaInit, HardConcreteOptions{}, at::detail::createCPUGenerator(0));
  EXPECT_TRUE(torch::equal(heads->logAlpha(), again->logAlpha()));
  EXPECT_NEAR(heads->logAlpha().mean().item<double>(), 10.0, 0.005);
  EXPECT_NEAR(heads->logAlpha().std().item<double>(), 0.01, 0.003);
  auto named = heads->named_parameters();
  ASSERT_TRUE(named.contains("log_alpha"));
  // constrain(): clamp to [ln 0.01, ln 100] (the reference clamps after each step, not at init).
  heads->constrain();
  EXPECT_TRUE(torch::allclose(heads->logAlpha(), torch::full({6, 12}, std::log(100.0f))));
  {
    torch::NoGradGuard noGrad;
    heads->logAlpha().fill_(-20);
  }
  heads->constrain();
  EXPECT_TRUE(torch::allclose(heads->logAlpha(), torch::full({6, 12}, std::log(0.01f))));

  EXPECT_EQ(logAlphaForDropRate(0.5), 0.0);
  EXPECT_NEAR(logAlphaForDropRate(0.1), std::log(9.0), 1e-12);
  EXPECT_THROW(logAlphaForDropRate(0.0), Error);
  EXPECT_THROW(HardConcreteGates(Shape{0}, 0.0, HardConcreteOptions{}, at::detail::createCPUGenerator(0)), Error);
  EXPECT_THROW(HardConcreteGates(Shape{}, 0.0, HardConcreteOptions{}, at::detail::createCPUGenerator(0)), Error);
  HardConcreteOptions cold;
  cold.temperature = 0;
  EXPECT_THROW(HardConcreteGates(Shape{4}, 0.0, cold, at::detail::createCPUGenerator(0)), Error);
}

// Number of zeros the reference's _deterministic_z gives one row: round(n − Σ P(z≠0)).
std::int64_t expectedZerosOf(const torch::Tensor& row) {
  double keep = 0;
  auto values = row.to(torch::kDouble).contiguous();
  for (std::int64_t i = 0; i < values.numel(); ++i) keep += probNonZeroAt(values[i].item<double>());
  const double zeros = static_cast<double>(values.numel()) - keep;
  // Keep the fixtures away from .5, where fp32 and double sums could round differently.
  EXPECT_GT(std::abs(zeros - std::floor(zeros) - 0.5), 1e-3) << "fixture too close to a rounding tie";
  return std::llround(zeros);
}

TEST(HardConcreteGates, DeterministicDropsTheRoundedExpectedNumber) {
  auto gen = at::detail::createCPUGenerator(11);
  struct Case {
    std::vector<std::int64_t> shape;
    double mean, std;
  };
  // Heads near the start of training, heads being pruned, FFN rows around 0, many rows with spread.
  const std::vector<Case> cases = {{{12}, 4.0, 0.5}, {{6, 12}, -0.5, 1.5}, {{3, 64}, 0.0, 2.0}, {{4, 300}, -2.0, 1.0}};
  for (const auto& c : cases) {
    HardConcreteGates gates(c.shape, c.mean, HardConcreteOptions{}, at::detail::createCPUGenerator(0));
    {
      torch::NoGradGuard noGrad;
      gates->logAlpha().normal_(c.mean, c.std, gen).clamp_(std::log(0.01), std::log(100.0));
    }
    auto z = gates->deterministic();
    ASSERT_EQ(z.sizes(), gates->logAlpha().sizes());
    EXPECT_TRUE(((z == 0) | (z == 1)).all().item<bool>());
    EXPECT_FALSE(z.requires_grad());
    const std::int64_t n = c.shape.back();
    auto rows = z.reshape({-1, n});
    auto logAlpha = gates->logAlpha().detach().reshape({-1, n});
    for (std::int64_t r = 0; r < rows.size(0); ++r) {
      const auto zeros = (rows[r] == 0).sum().item<std::int64_t>();
      EXPECT_EQ(zeros, expectedZerosOf(logAlpha[r])) << "mean " << c.mean << " row " << r;
      // The zeros are the gates with the smallest log α.
      if (zeros > 0 && zeros < n) {
        EXPECT_LE(logAlpha[r].masked_select(rows[r] == 0).max().item<float>(),
                  logAlpha[r].masked_select(rows[r] == 1).min().item<float>());
      }
    }
  }
}

TEST(HardConcreteGates, DeterministicHandBuiltRows) {
  // Ten equal gates at log α = −2: P = σ(−2 + (2/3)·ln 11) = 0.40097, Σ = 4.0097, zeros =
  // round(5.990) = 6; ties go to the lowest indices.
  auto equal = gatesWith({10}, torch::tensor({-2.0f}));
  auto z = equal->deterministic();
  EXPECT_TRUE(torch::equal(z, torch::tensor({0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 1.f, 1.f, 1.f, 1.f})));
  // Twelve heads at the clamp ln 100: P = 0.99798, Σ = 11.976, round(0.024) = 0 zeros.
  auto full = gatesWith({12}, torch::tensor({std::log(100.0f)}));
  EXPECT_TRUE(torch::equal(full->deterministic(), torch::ones({12})));
  // Mixed row: P = [0.0471, 0.0471, 0.8318, 0.9980] → Σ = 1.924, zeros = round(2.076) = 2.
  auto mixed = gatesWith({4}, torch::tensor({std::log(0.01f), std::log(0.01f), 0.0f, std::log(100.0f)}));
  EXPECT_TRUE(torch::equal(mixed->deterministic(), torch::tensor({0.f, 0.f, 1.f, 1.f})));
  // forward(): samples in training mode, deterministic in eval mode.
  auto gen = at::detail::createCPUGenerator(5);
  equal->eval();
  EXPECT_TRUE(torch::equal(equal->forward(gen), z));
  equal->train();
  EXPECT_TRUE(torch::equal(equal->forward(at::detail::createCPUGenerator(5)),
                           equal->sample(at::detail::createCPUGenerator(5))));
}

// ---------------------------------------------------------------------------------------------

std::int64_t linearParams(std::int64_t in, std::int64_t out) { return in * out + out; }

// A hand-built layout: a vision block, a fusion block (self + cross-attention on a 6-wide
// context) and a heads-only text block whose heads are narrower than d/H would give.
std::vector<GatedBlock> smallLayout() {
  return {{"vision", 8, 2, 4, 16, 0}, {"cross", 8, 2, 4, 16, 6}, {"text", 6, 3, 2, 0, 0}};
}

TEST(HardConcreteLayout, PerGateCountsMatchTheLinearLayers) {
  auto layout = smallLayout();
  // Self-attention: q, k, v, o, all 8 → 8 with bias: 4·72 = 288 = 2 heads·144.
  EXPECT_EQ(layout[0].paramsPerHead(), 144);
  EXPECT_EQ(2 * layout[0].paramsPerHead(), 4 * linearParams(8, 8));
  // Cross-attention: q 8→8, k and v 6→8, o 8→8: 72 + 2·56 + 72 = 256 = 2 heads·128.
  EXPECT_EQ(layout[1].paramsPerCrossHead(), 128);
  EXPECT_EQ(2 * layout[1].paramsPerCrossHead(), 2 * linearParams(8, 8) + 2 * linearParams(6, 8));
  // MLP 8→16→8: 144 + 136 = 280 parameters, ⌊280/16⌋ = 17 per neuron (floored, like the reference).
  EXPECT_EQ(layout[0].paramsPerNeuron(), 17);
  // Text: A = 3·2 = 6; q, k, v 6→6, o 6→6: 4·42 = 168 = 3 heads·56.
  EXPECT_EQ(layout[2].paramsPerHead(), 56);
  EXPECT_EQ(layout[2].headGates(), 3);
  EXPECT_EQ(layout[1].headGates(), 4);

  auto m = prunableSize(layout);
  EXPECT_EQ(layout[0].prunableParams(), 288 + 280);
  EXPECT_EQ(layout[1].prunableParams(), 288 + 256 + 280);
  EXPECT_EQ(m.total, 568 + 824 + 168);
  EXPECT_EQ(m.perModality.at("vision"), 568);
  EXPECT_EQ(m.perModality.at("cross"), 824);
  EXPECT_EQ(m.perModality.at("text"), 168);
}

TEST(HardConcreteLayout, ExpectedSizeEqualsTheAnalyticCount) {
  auto layout = smallLayout();
  auto opts = torch::TensorOptions().dtype(torch::kDouble);
  std::vector<torch::Tensor> heads = {torch::tensor({0.5, 0.25}, opts), torch::tensor({1.0, 0.0, 0.5, 0.5}, opts),
                                      torch::tensor({1.0, 1.0, 0.5}, opts)};
  std::vector<torch::Tensor> neurons = {torch::full({16}, 0.5, opts), torch::ones({16}, opts), torch::Tensor()};
  // vision: 0.75·144 + 8·17 = 244; cross: 1·144 (self) + 1·128 (cross) + 16·17 = 544; text: 2.5·56 = 140.
  auto e = expectedKeptParams(layout, heads, neurons);
  EXPECT_DOUBLE_EQ(e.perModality.at("vision").item<double>(), 244);
  EXPECT_DOUBLE_EQ(e.perModality.at("cross").item<double>(), 544);
  EXPECT_DOUBLE_EQ(e.perModality.at("text").item<double>(), 140);
  EXPECT_DOUBLE_EQ(e.total.item<double>(), 928);
  EXPECT_DOUBLE_EQ(expectedSparsity(e.total, prunableSize(layout).total).item<double>(), 1 - 928.0 / 1560.0);

  // Wrong counts name the block and what to pass.
  auto badHeads = heads;
  badHeads[1] = torch::ones({2}, opts);
  EXPECT_THROW(expectedKeptParams(layout, badHeads, neurons), Error);
  auto badNeurons = neurons;
  badNeurons[2] = torch::ones({4}, opts);
  EXPECT_THROW(expectedKeptParams(layout, heads, badNeurons), Error);
  EXPECT_THROW(expectedKeptParams(layout, {heads[0]}, neurons), Error);
  EXPECT_THROW(prunableSize({{"vision", 8, 0, 0, 0, 0}}), Error);
  EXPECT_THROW(prunableSize({{"", 8, 2, 4, 16, 0}}), Error);
  EXPECT_THROW(prunableSize({{"vision", 8, 2, 0, 16, 0}}), Error);
  EXPECT_THROW(prunableSize({}), Error);
}

TEST(HardConcreteLayout, XvlmSmallMatchesTheSpecNumbers) {
  // spec §2.3: 6 ViT + 3 text + 3 fusion blocks (self + cross), d = 768, H = 12, f = 3072.
  std::vector<GatedBlock> layout;
  for (int i = 0; i < 6; ++i) layout.push_back({"vision", 768, 12, 64, 3072, 0});
  for (int i = 0; i < 3; ++i) layout.push_back({"text", 768, 12, 64, 3072, 0});
  for (int i = 0; i < 3; ++i) layout.push_back({"cross", 768, 12, 64, 3072, 768});
  EXPECT_EQ(layout[0].paramsPerHead(), 196864);
  EXPECT_EQ(layout[9].paramsPerCrossHead(), 196864);
  EXPECT_EQ(layout[0].paramsPerNeuron(), 1537);
  auto m = prunableSize(layout);
  EXPECT_EQ(m.total, 92104704);  // 196,864·12·(6+3+6) + 4,722,432·12
  EXPECT_EQ(m.perModality.at("vision"), 6 * (12 * 196864 + 4722432));
  EXPECT_EQ(m.perModality.at("cross"), 3 * (24 * 196864 + 4722432));

  // Every gate on: E = 196,864·180 + 1537·3072·12 = 92,095,488, so ŝ = 9216/M = 1.0e-4, the
  // reference's offset from flooring 1537.25 to 1537.
  auto opts = torch::TensorOptions().dtype(torch::kDouble);
  std::vector<torch::Tensor> heads, neurons;
  for (const auto& b : layout) {
    heads.push_back(torch::ones({b.headGates()}, opts));
    neurons.push_back(torch::ones({b.mlpDim}, opts));
  }
  auto e = expectedKeptParams(layout, heads, neurons);
  EXPECT_DOUBLE_EQ(e.total.item<double>(), 92095488);
  EXPECT_NEAR(expectedSparsity(e.total, m.total).item<double>(), 9216.0 / 92104704.0, 1e-15);
}

TEST(HardConcreteLayout, ExpectedSizeFromGatesIsDifferentiable) {
  std::vector<GatedBlock> layout = {{"vision", 8, 2, 4, 16, 0}};
  auto gen = at::detail::createCPUGenerator(9);
  HardConcreteOptions spread;
  spread.init_std = 1.0;  // distinct log α values, so each gate's gradient is checked on its own
  HardConcreteGates heads(Shape{1, 2}, 0.5, spread, gen);
  HardConcreteGates neurons(Shape{1, 16}, 0.0, spread, gen);
  auto ph = heads->probNonZero(), pn = neurons->probNonZero();
  auto e = expectedKeptParams(layout, {ph}, {pn});
  const double analytic = 144 * ph.sum().item<double>() + 17 * pn.sum().item<double>();
  EXPECT_NEAR(e.total.item<double>(), analytic, 1e-3);
  e.total.backward();
  // dE/dlog α = params per gate · P(1 − P).
  EXPECT_TRUE(torch::allclose(heads->logAlpha().grad(), 144 * ph * (1 - ph), 1e-4, 1e-4));
  EXPECT_TRUE(torch::allclose(neurons->logAlpha().grad(), 17 * pn * (1 - pn), 1e-4, 1e-4));
}

// ---------------------------------------------------------------------------------------------

TEST(HardConcreteLagrangian, ValueGradientsAndAscent) {
  Lagrangian lag;
  EXPECT_EQ(lag->lambda1().item<float>(), 0.0f);
  EXPECT_EQ(lag->lambda2().item<float>(), 0.0f);
  ASSERT_TRUE(lag->named_parameters().contains("lambda_1"));
  {
    torch::NoGradGuard noGrad;
    lag->lambda1().fill_(2.0);
    lag->lambda2().fill_(3.0);
  }
  // ŝ = 0.3, t = 0.5: 2·(−0.2) + 3·0.04 = −0.28.
  auto s = torch::tensor(0.3, torch::TensorOptions().dtype(torch::kDouble).requires_grad(true));
  auto term = lag->forward(s, 0.5);
  EXPECT_NEAR(term.item<double>(), -0.28, 1e-7);
  term.backward();
  EXPECT_NEAR(lag->lambda1().grad().item<double>(), -0.2, 1e-7);       // ŝ − t
  EXPECT_NEAR(lag->lambda2().grad().item<double>(), 0.04, 1e-7);       // (ŝ − t)²
  EXPECT_NEAR(s.grad().item<double>(), 2.0 + 2 * 3.0 * (-0.2), 1e-7);  // λ1 + 2λ2(ŝ − t) = 0.8
  lag->reverseGradients();
  EXPECT_NEAR(lag->lambda1().grad().item<double>(), 0.2, 1e-7);
  EXPECT_NEAR(lag->lambda2().grad().item<double>(), -0.04, 1e-7);
  EXPECT_NEAR(s.grad().item<double>(), 0.8, 1e-7);  // only λ is reversed

  // From λ = 0, one AdamW step with reversed gradients and lr = +reg_lr is the reference's step
  // with lr = −reg_lr: Adam's first step is lr·sign(g), so λ1 → −0.01 (ŝ below target) and
  // λ2 → +0.01, and the term grows (ascent).
  Lagrangian fresh;
  torch::optim::AdamW opt(fresh->parameters(),
                          torch::optim::AdamWOptions(0.01).betas({0.9, 0.98}).eps(1e-8).weight_decay(0));
  auto before = fresh->forward(s.detach(), 0.5);
  before.backward();
  fresh->reverseGradients();
  opt.step();
  EXPECT_NEAR(fresh->lambda1().item<double>(), -0.01, 1e-6);
  EXPECT_NEAR(fresh->lambda2().item<double>(), 0.01, 1e-6);
  EXPECT_GT(fresh->forward(s.detach(), 0.5).item<double>(), before.item<double>());

  EXPECT_THROW(lag->forward(torch::ones({2}), 0.5), Error);
}

TEST(HardConcreteRamp, LinearFromStartToTargetOnTheGlobalStep) {
  TargetRampOptions ramp;
  ramp.target = 0.25;
  ramp.warmup_steps = 100;
  EXPECT_DOUBLE_EQ(ramp.targetAt(0), 0.0);
  EXPECT_DOUBLE_EQ(ramp.targetAt(50), 0.125);
  EXPECT_DOUBLE_EQ(ramp.targetAt(100), 0.25);
  EXPECT_DOUBLE_EQ(ramp.targetAt(250), 0.25);  // beyond the warmup: stays, no restart
  ramp.start = 0.1;
  EXPECT_DOUBLE_EQ(ramp.targetAt(0), 0.1);
  EXPECT_NEAR(ramp.targetAt(50), 0.175, 1e-15);
  EXPECT_DOUBLE_EQ(ramp.targetAt(100), 0.25);
  ramp.warmup_steps = 0;  // no warmup: the target from step 0
  EXPECT_DOUBLE_EQ(ramp.targetAt(0), 0.25);
  EXPECT_THROW(ramp.targetAt(-1), Error);
}

TEST(HardConcreteOptions, ParseDumpAndValidate) {
  auto dumped = dumpOptions(HardConcreteOptions{});
  EXPECT_NEAR(dumped["temperature"].as<double>(), 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(dumped["log_alpha_max"].as<double>(), std::log(100.0), 1e-12);
  auto parsed = parseOptions<HardConcreteOptions>(YAML::Load("temperature: 0.33"), "pruner.gates");
  EXPECT_DOUBLE_EQ(parsed.temperature, 0.33);
  EXPECT_THROW(parseOptions<HardConcreteOptions>(YAML::Load("temperature: 0"), "pruner.gates"), Error);
  EXPECT_THROW(parseOptions<HardConcreteOptions>(YAML::Load("limit_l: 0.1"), "pruner.gates"), Error);
  EXPECT_THROW(parseOptions<HardConcreteOptions>(YAML::Load("temprature: 0.5"), "pruner.gates"), Error);
  EXPECT_THROW(parseOptions<TargetRampOptions>(YAML::Load("target: 1.0"), "pruner.ramp"), Error);
  EXPECT_THROW(parseOptions<TargetRampOptions>(YAML::Load("warmup_steps: -1"), "pruner.ramp"), Error);
  auto ramp = parseOptions<TargetRampOptions>(YAML::Load("{target: 0.35, warmup_steps: 10}"), "pruner.ramp");
  EXPECT_DOUBLE_EQ(ramp.targetAt(5), 0.175);
}

}  // namespace
}  // namespace prunelab::prune
