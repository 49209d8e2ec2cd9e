#include "framework/prune/HardConcrete.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "framework/core/Error.h"

namespace prunelab::prune {

void HardConcreteOptions::validate() const {
  PL_CHECK(std::isfinite(temperature) && temperature > 0,
           "hard_concrete.temperature must be a positive number, got {} (reference: 2/3)", temperature);
  // l < 0 < 1 < r is what gives z an atom at 0 and at 1; without it no gate can ever be exactly 0.
  PL_CHECK(std::isfinite(limit_l) && limit_l < 0, "hard_concrete.limit_l must be negative, got {} (reference: -0.1)",
           limit_l);
  PL_CHECK(std::isfinite(limit_r) && limit_r > 1,
           "hard_concrete.limit_r must be greater than 1, got {} (reference: 1.1)", limit_r);
  PL_CHECK(eps > 0 && eps < 0.5, "hard_concrete.eps must lie in (0, 0.5), got {} (reference: 1e-6)", eps);
  PL_CHECK(std::isfinite(init_std) && init_std >= 0, "hard_concrete.init_std must be >= 0, got {} (reference: 0.01)",
           init_std);
  PL_CHECK(std::isfinite(log_alpha_min) && std::isfinite(log_alpha_max) && log_alpha_min < log_alpha_max,
           "hard_concrete.log_alpha_min ({}) must be below log_alpha_max ({}) (reference: ln 0.01, ln 100)",
           log_alpha_min, log_alpha_max);
}

double logAlphaForDropRate(double dropRate) {
  PL_CHECK(dropRate > 0 && dropRate < 1, "a gate's initial drop rate must lie in (0, 1), got {} (reference: 0.5)",
           dropRate);
  return std::log(1 - dropRate) - std::log(dropRate);
}

// ---------------------------------------------------------------------------------------------
// Gate group. Formulas: spec-ecoflap-efficientvlm.md §2.3 (sampling, P(z≠0), initialisation,
// clamping) and §2.5 (deterministic z); reference `xvlm_l0_module.py` functions named below.

HardConcreteGatesImpl::HardConcreteGatesImpl(std::vector<std::int64_t> shape, double initMean,
                                             HardConcreteOptions options, torch::Generator generator)
    : options_(std::move(options)) {
  options_.validate();
  PL_CHECK(!shape.empty() && std::all_of(shape.begin(), shape.end(), [](std::int64_t s) { return s > 0; }),
           "HardConcreteGates: the shape must be [n] or [rows, n] with positive sizes, got [{}]",
           fmt::join(shape, ", "));
  PL_CHECK(std::isfinite(initMean), "HardConcreteGates: the initial log α mean must be finite, got {}", initMean);
  PL_CHECK(generator.defined() && generator.device().is_cpu(),
           "HardConcreteGates: initialise with a CPU generator (at::detail::createCPUGenerator(seed)), then move the "
           "module with ->to(device)");
  // reference `reset_loga`: tensor.data.normal_(mean, 1e-2); heads use mean 10, FFN neurons
  // log(1−0.5) − log(0.5) = 0.
  auto init =
      torch::empty(shape, torch::TensorOptions().dtype(torch::kFloat)).normal_(initMean, options_.init_std, generator);
  logAlpha_ = register_parameter("log_alpha", init);
}

torch::Tensor HardConcreteGatesImpl::sample(const torch::Generator& generator) const {
  PL_CHECK(generator.defined(), "HardConcreteGates::sample needs a generator (at::detail::createCPUGenerator(seed))");
  const double l = options_.limit_l, r = options_.limit_r, eps = options_.eps;
  // reference `get_eps`: u ~ U(eps, 1−eps), drawn on the generator's device, then moved to log α's.
  auto u =
      torch::empty(logAlpha_.sizes(), torch::TensorOptions().dtype(logAlpha_.scalar_type()).device(generator.device()))
          .uniform_(eps, 1 - eps, generator)
          .to(logAlpha_.device());
  // reference `quantile_concrete`: s = σ((log u − log(1−u) + log α)/β), s̄ = s·(r−l) + l.
  auto s = torch::sigmoid((torch::log(u) - torch::log(1 - u) + logAlpha_) / options_.temperature);
  // reference `_sample_z`: z = hardtanh(s̄, 0, 1).
  return torch::hardtanh(s * (r - l) + l, 0, 1);
}

torch::Tensor HardConcreteGatesImpl::cdf(double x) const {
  const double l = options_.limit_l, r = options_.limit_r;
  PL_CHECK(x > l && x < r, "HardConcreteGates::cdf is defined on the open interval (l, r) = ({}, {}), got x = {}", l, r,
           x);
  // reference `cdf_qz`: xn = (x−l)/(r−l), σ(β·(log xn − log(1−xn)) − log α), clamped to [eps, 1−eps].
  const double xn = (x - l) / (r - l);
  const double logits = std::log(xn) - std::log(1 - xn);
  return torch::sigmoid(logits * options_.temperature - logAlpha_).clamp(options_.eps, 1 - options_.eps);
}

torch::Tensor HardConcreteGatesImpl::probNonZero() const {
  // §2.3: P(z≠0) = 1 − cdf_qz(0) = 1 − σ(β·log(−l/r) − log α) = σ(log α − β·log(−l/r)); at x = 0,
  // xn/(1−xn) = −l/r (= 1/11 with the reference limits). Within the clamped log α range the
  // [eps, 1−eps] clamp never binds (P ∈ [0.047, 0.998]).
  return 1 - cdf(0.0);
}

torch::Tensor HardConcreteGatesImpl::deterministic() const {
  torch::NoGradGuard noGrad;
  const std::int64_t n = logAlpha_.size(-1);
  auto logAlpha = logAlpha_.detach().reshape({-1, n});
  // reference `_deterministic_z`, per layer (row): n0 = round(n − Σ P(z≠0)). The sum is taken in
  // log α's dtype and the subtraction in double, as in the reference (fp32 sum, Python float).
  // std::nearbyint rounds half to even in the default rounding mode, like Python's round().
  auto expectedNonZero = probNonZero().detach().reshape({-1, n}).sum(1).to(torch::kDouble).cpu();
  // The reference zeroes the n0 smallest σ(log α/β·0.8), which orders gates exactly as log α
  // does; sorting log α itself avoids fp32 ties of σ near 1. Ties: lowest index first (stable sort).
  auto order = std::get<1>(torch::sort(logAlpha, /*stable=*/true, /*dim=*/1, /*descending=*/false));
  // Survivors are 1, not the soft σ values CoFiPruning keeps (§2.5).
  auto z = torch::ones_like(logAlpha);
  auto expected = expectedNonZero.accessor<double, 1>();
  for (std::int64_t row = 0; row < logAlpha.size(0); ++row) {
    const auto zeros = std::clamp(static_cast<std::int64_t>(std::nearbyint(static_cast<double>(n) - expected[row])),
                                  std::int64_t{0}, n);
    if (zeros > 0) z[row].index_fill_(0, order[row].slice(0, 0, zeros), 0);
  }
  return z.reshape(logAlpha_.sizes());
}

void HardConcreteGatesImpl::constrain() {
  torch::NoGradGuard noGrad;
  // reference `constrain_parameters`: clamp_(min=ln 1e-2, max=ln 1e2) after every step.
  logAlpha_.clamp_(options_.log_alpha_min, options_.log_alpha_max);
}

// ---------------------------------------------------------------------------------------------
// Expected size (§2.3 "Expected kept size"; reference `params_per_head`,
// `params_per_intermediate_dim`, `prunable_model_size`, `get_num_parameters_and_constraint`).
//
// The reference hard-codes BERT/ViT geometry: 4d² + 4d per attention layer (q, k, v, o weights and
// biases, attention width A = d) and 2·d·f + 5d per MLP (fc1, fc2 weights; biases f + d with
// f = 4d). Here the same counts are written for a general block: 4·d·A + 3·A + d per attention
// (3 biases of A, one of d), 2·d·A + 2·c·A + 3·A + d per cross-attention whose k/v read a c-wide
// context, and 2·d·f + f + d per MLP. They equal the reference's numbers exactly when A = d,
// c = d and f = 4d (X-VLM: 196,864 per head, 1537 per neuron, M = 92,104,704).
//
// As in the reference, the per-head and per-neuron counts are floored (Python //) while M holds
// whole MLPs, so E[size] with every gate on is slightly below M (X-VLM-small: ŝ = 1.0e-4 then).

std::int64_t GatedBlock::paramsPerHead() const {
  if (heads == 0) return 0;
  const std::int64_t a = heads * headDim;
  return (4 * dim * a + 3 * a + dim) / heads;
}

std::int64_t GatedBlock::paramsPerCrossHead() const {
  if (heads == 0 || contextDim == 0) return 0;
  const std::int64_t a = heads * headDim;
  return (2 * dim * a + 2 * contextDim * a + 3 * a + dim) / heads;
}

std::int64_t GatedBlock::paramsPerNeuron() const {
  if (mlpDim == 0) return 0;
  return (2 * dim * mlpDim + mlpDim + dim) / mlpDim;
}

std::int64_t GatedBlock::prunableParams() const {
  // Heads: params_per_head · H per attention module (the reference's cross rows 2i, 2i+1 count one
  // layer each). MLP: the whole layer, params_per_mlp_layer.
  std::int64_t total = heads * paramsPerHead() + heads * paramsPerCrossHead();
  if (mlpDim > 0) total += 2 * dim * mlpDim + mlpDim + dim;
  return total;
}

void GatedBlock::validate(std::size_t index) const {
  PL_CHECK(!modality.empty(), "gate layout block {}: set its modality (e.g. \"vision\", \"text\", \"cross\")", index);
  PL_CHECK(dim > 0, "gate layout block {} ({}): dim must be positive, got {}", index, modality, dim);
  PL_CHECK(heads >= 0 && mlpDim >= 0 && contextDim >= 0,
           "gate layout block {} ({}): heads ({}), mlpDim ({}) and contextDim ({}) must be >= 0", index, modality,
           heads, mlpDim, contextDim);
  PL_CHECK(heads == 0 || headDim > 0, "gate layout block {} ({}): {} gated heads need a positive headDim, got {}",
           index, modality, heads, headDim);
  PL_CHECK(heads > 0 || mlpDim > 0,
           "gate layout block {} ({}) has no gates: set heads and/or mlpDim, or leave the block out of the layout",
           index, modality);
}

PrunableSize prunableSize(const std::vector<GatedBlock>& layout) {
  PL_CHECK(!layout.empty(), "the gate layout is empty: describe each gated transformer block with a GatedBlock");
  PrunableSize size;
  for (std::size_t b = 0; b < layout.size(); ++b) {
    layout[b].validate(b);
    const std::int64_t n = layout[b].prunableParams();
    size.total += n;
    size.perModality[layout[b].modality] += n;
  }
  return size;
}

namespace {

// The gate probabilities of one part of block b, flattened; undefined when the part has no gates.
torch::Tensor gateValues(const torch::Tensor& values, std::int64_t expected, std::size_t block,
                         const GatedBlock& layout, const char* what) {
  if (expected == 0) {
    PL_CHECK(!values.defined() || values.numel() == 0,
             "expectedKeptParams: block {} ({}) has no {} gates but {} values were given; pass an undefined tensor",
             block, layout.modality, what, values.numel());
    return {};
  }
  PL_CHECK(values.defined() && values.numel() == expected,
           "expectedKeptParams: block {} ({}) has {} {} gates but {} values were given (head gates: heads per "
           "attention module, self-attention first, then cross-attention)",
           block, layout.modality, expected, what, values.defined() ? values.numel() : 0);
  return values.reshape({-1});
}

void accumulate(torch::Tensor& sum, const torch::Tensor& term) { sum = sum.defined() ? sum + term : term; }

}  // namespace

ExpectedSize expectedKeptParams(const std::vector<GatedBlock>& layout, const std::vector<torch::Tensor>& headKeep,
                                const std::vector<torch::Tensor>& neuronKeep) {
  prunableSize(layout);  // validates every block
  PL_CHECK(headKeep.size() == layout.size() && neuronKeep.size() == layout.size(),
           "expectedKeptParams: the layout has {} blocks but {} head and {} neuron probability tensors were given; "
           "pass one of each per block (undefined where a block has no such gates)",
           layout.size(), headKeep.size(), neuronKeep.size());
  ExpectedSize out;
  for (std::size_t b = 0; b < layout.size(); ++b) {
    const GatedBlock& block = layout[b];
    torch::Tensor kept;
    if (auto heads = gateValues(headKeep[b], block.headGates(), b, block, "head"); heads.defined()) {
      // Σ_heads P·params_per_head: self-attention heads first, then the cross-attention heads.
      accumulate(kept, heads.slice(0, 0, block.heads).sum() * static_cast<double>(block.paramsPerHead()));
      if (block.attentionModules() == 2)
        accumulate(kept, heads.slice(0, block.heads).sum() * static_cast<double>(block.paramsPerCrossHead()));
    }
    if (auto neurons = gateValues(neuronKeep[b], block.mlpDim, b, block, "neuron"); neurons.defined())
      accumulate(kept, neurons.sum() * static_cast<double>(block.paramsPerNeuron()));  // Σ_neurons P·1537 in X-VLM
    accumulate(out.perModality[block.modality], kept);
    accumulate(out.total, kept);
  }
  return out;
}

torch::Tensor expectedSparsity(const torch::Tensor& expectedSize, std::int64_t prunableParams) {
  PL_CHECK(prunableParams > 0, "expectedSparsity: the prunable size must be positive, got {} (use prunableSize)",
           prunableParams);
  // §2.3: ŝ = 1 − E[size]/M.
  return 1 - expectedSize / static_cast<double>(prunableParams);
}

// ---------------------------------------------------------------------------------------------
// Lagrangian (§2.3; reference `lagrangian_regularization`, λ1 = λ2 = 0 at start).

LagrangianImpl::LagrangianImpl() {
  lambda1_ = register_parameter("lambda_1", torch::zeros({}));
  lambda2_ = register_parameter("lambda_2", torch::zeros({}));
}

torch::Tensor LagrangianImpl::forward(const torch::Tensor& expectedSparsity, double target) {
  PL_CHECK(expectedSparsity.defined() && expectedSparsity.numel() == 1,
           "Lagrangian: the expected sparsity must be a scalar tensor (expectedSparsity(...)), got {} values",
           expectedSparsity.defined() ? expectedSparsity.numel() : 0);
  const auto gap = expectedSparsity.reshape({}) - target;
  return lambda1_ * gap + lambda2_ * gap * gap;
}

void LagrangianImpl::reverseGradients() {
  torch::NoGradGuard noGrad;
  for (const auto* lambda : {&lambda1_, &lambda2_})
    if (lambda->grad().defined()) lambda->grad().neg_();
}

// ---------------------------------------------------------------------------------------------
// Target ramp (§2.3: t = t_final·min(1, step/warmup) from 0; reference `get_target_sparsity`).

void TargetRampOptions::validate() const {
  PL_CHECK(std::isfinite(start) && start >= 0 && start < 1, "target_ramp.start must lie in [0, 1), got {}", start);
  PL_CHECK(std::isfinite(target) && target >= 0 && target < 1,
           "target_ramp.target must lie in [0, 1), got {} (reference: 0.25, VQA 0.35)", target);
  PL_CHECK(warmup_steps >= 0, "target_ramp.warmup_steps must be >= 0, got {} (0 = no ramp)", warmup_steps);
}

double TargetRampOptions::targetAt(std::int64_t globalStep) const {
  PL_CHECK(globalStep >= 0, "target ramp: the step must be >= 0, got {}", globalStep);
  // Deliberate difference from the reference (§2.3 "Warmup quirk"): there `global_step` is reset to
  // 0 at every epoch, so with a one-epoch warmup t ramps 0 → t_final again in each epoch. Here the
  // caller passes the global step counted across epochs, so t ramps once and then stays at
  // `target`. To reproduce the reference, pass the step within the current epoch.
  if (warmup_steps == 0) return target;  // reference: no warmup → target_sparsity throughout
  const double progress = std::min(1.0, static_cast<double>(globalStep) / static_cast<double>(warmup_steps));
  return (target - start) * progress + start;
}

}  // namespace prunelab::prune
