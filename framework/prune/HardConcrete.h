#pragma once

#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace prunelab::prune {

// Hard-concrete L0 gates (Louizos et al. 2018) as EfficientVLM uses them for structured pruning
// of attention heads and FFN neurons (spec-ecoflap-efficientvlm.md §2.2–§2.5; reference
// swaggy-TN/EfficientVLM `efficient_models/xvlm_l0_module.py`, itself from CoFiPruning). The
// pieces are independent so that any model can use them: a gate group (one log α per gate), the
// expected kept-parameter count of a gated transformer layout, the Lagrangian sparsity constraint
// and its target ramp. Masking the blocks with z is the model's business.

/// Settings of the hard-concrete distribution. The defaults are the reference constructor's
/// constants (§2.3: its YAML temperature/droprate values are never passed, so these are what ran).
struct HardConcreteOptions {
  double temperature = 2.0 / 3.0;
  double limit_l = -0.1;
  double limit_r = 1.1;
  double eps = 1e-6;
  double init_std = 1e-2;
  double log_alpha_min = std::log(1e-2);
  double log_alpha_max = std::log(1e2);

  template <class V>
  void visit(V& v) {
    v(temperature, "temperature", "β of the concrete relaxation (reference: 2/3; Voita et al. use 0.33)");
    v(limit_l, "limit_l", "left end l of the stretch interval (l, r), < 0 (reference: -0.1)");
    v(limit_r, "limit_r", "right end r of the stretch interval (l, r), > 1 (reference: 1.1)");
    v(eps, "eps", "u ~ U(eps, 1-eps) when sampling; the CDF is clamped to [eps, 1-eps] (reference: 1e-6)");
    v(init_std, "init_std", "standard deviation of the N(mean, std²) initialisation of log α (reference: 0.01)");
    v(log_alpha_min, "log_alpha_min", "constrain(): lower clamp of log α (reference: ln 0.01)");
    v(log_alpha_max, "log_alpha_max", "constrain(): upper clamp of log α (reference: ln 100)");
  }
  /// Throws on values that make the distribution degenerate, with the fix.
  void validate() const;
};

/// Initial mean of head log α in the reference (`reset_loga(mean=10)`); constrain() clamps it to
/// ln 100 after the first optimizer step.
inline constexpr double kHeadLogAlphaInit = 10.0;

/// Initial mean of log α for a drop rate p: log(1−p) − log p (reference `reset_loga` default; the
/// FFN gates use p = 0.5, i.e. 0). Throws unless 0 < p < 1.
double logAlphaForDropRate(double dropRate);

/// A group of hard-concrete gates, one learnable log α each (parameter "log_alpha"). The shape is
/// [n] or [rows, n] (e.g. [layers, heads]); deterministic() rounds per row of the last dimension,
/// as the reference does per layer.
class HardConcreteGatesImpl : public torch::nn::Module {
 public:
  /// log α ~ N(initMean, init_std²), drawn from `generator` (CPU, fp32). Not clamped here: the
  /// reference clamps only after each optimizer step (constrain()).
  HardConcreteGatesImpl(std::vector<std::int64_t> shape, double initMean, HardConcreteOptions options,
                        torch::Generator generator);

  /// Training gates: u ~ U(eps, 1−eps) from `generator`, s = σ((log u − log(1−u) + log α)/β),
  /// z = clamp(s·(r−l) + l, 0, 1). Differentiable in log α; a fresh draw on every call.
  torch::Tensor sample(const torch::Generator& generator) const;
  /// Evaluation gates: per row, the round(n − Σ P(z≠0)) gates with the smallest log α are 0 and
  /// all others 1 (binary). No gradient.
  torch::Tensor deterministic() const;
  /// sample() in training mode, deterministic() in eval mode.
  torch::Tensor forward(const torch::Generator& generator) {
    return is_training() ? sample(generator) : deterministic();
  }

  /// P(z ≤ x) of the stretched concrete (reference `cdf_qz`), clamped to [eps, 1−eps], for l < x < r.
  torch::Tensor cdf(double x) const;
  /// P(z ≠ 0) = 1 − cdf(0) = σ(log α − β·log(−l/r)) (clamped as cdf). Differentiable in log α.
  torch::Tensor probNonZero() const;
  /// Clamps log α in place to [log_alpha_min, log_alpha_max]; call after every optimizer step.
  void constrain();

  /// The log α parameter (the registered tensor itself).
  const torch::Tensor& logAlpha() const { return logAlpha_; }
  /// The distribution's settings.
  const HardConcreteOptions& options() const { return options_; }

 private:
  HardConcreteOptions options_;
  torch::Tensor logAlpha_;
};
TORCH_MODULE(HardConcreteGates);

/// One transformer block as its L0 gates see it. Each attention module has `heads` head gates;
/// the MLP has `mlpDim` neuron gates. A count of 0 means that part is not gated (and not counted).
struct GatedBlock {
  std::string modality;         ///< e.g. "vision", "text", "cross"; what the per-modality counts are keyed by
  std::int64_t dim = 0;         ///< residual width d (input of q/k/v and fc1, output of o and fc2)
  std::int64_t heads = 0;       ///< head gates per attention module
  std::int64_t headDim = 0;     ///< width of one head (heads·headDim = attention width A)
  std::int64_t mlpDim = 0;      ///< FFN width = neuron gates
  std::int64_t contextDim = 0;  ///< > 0: the block also has a gated cross-attention whose k/v read a context this wide

  /// Attention modules with head gates: 1, or 2 (self, then cross) when contextDim > 0.
  std::int64_t attentionModules() const { return heads > 0 ? (contextDim > 0 ? 2 : 1) : 0; }
  /// Head gates of the block: attentionModules()·heads, self-attention first.
  std::int64_t headGates() const { return attentionModules() * heads; }
  /// Parameters behind one self-attention head: ⌊(4·d·A + 3·A + d)/H⌋ (= reference (4d²+4d)//H when A = d).
  std::int64_t paramsPerHead() const;
  /// Parameters behind one cross-attention head: ⌊(2·d·A + 2·c·A + 3·A + d)/H⌋ (= paramsPerHead() when c = d).
  std::int64_t paramsPerCrossHead() const;
  /// Parameters behind one FFN neuron: ⌊(2·d·f + f + d)/f⌋ (= reference (2·d·f + 5d)//f when f = 4d).
  std::int64_t paramsPerNeuron() const;
  /// The block's share of the prunable size M: heads·paramsPerHead (per attention module) plus the
  /// whole MLP, 2·d·f + f + d (unfloored, as the reference's `prunable_model_size`).
  std::int64_t prunableParams() const;
  /// Throws unless the sizes are consistent, naming the block.
  void validate(std::size_t index) const;
};

/// M = Σ blocks' prunableParams(), and the same per modality.
struct PrunableSize {
  std::int64_t total = 0;
  std::map<std::string, std::int64_t> perModality;
};

/// The prunable size of a layout (reference `prunable_model_size`). Validates every block.
PrunableSize prunableSize(const std::vector<GatedBlock>& layout);

/// E[kept parameters] of a layout, as differentiable scalar tensors.
struct ExpectedSize {
  torch::Tensor total;                               ///< Σ over all blocks
  std::map<std::string, torch::Tensor> perModality;  ///< Σ over the blocks of each modality
};

/// E[size] = Σ_head-gates P·paramsPer(Cross)Head + Σ_neuron-gates P·paramsPerNeuron (spec §2.3,
/// reference `get_num_parameters_and_constraint`). `headKeep[b]` holds P(z≠0) of block b's
/// headGates() gates (self-attention heads, then cross-attention heads; any shape with that
/// numel, undefined when 0), `neuronKeep[b]` those of its mlpDim neuron gates. Computed in the
/// dtype of the inputs (the reference: fp32); pass binary z to count a pruned model's kept size.
ExpectedSize expectedKeptParams(const std::vector<GatedBlock>& layout, const std::vector<torch::Tensor>& headKeep,
                                const std::vector<torch::Tensor>& neuronKeep);

/// Expected sparsity ŝ = 1 − E[size]/M (reference `lagrangian_regularization`).
torch::Tensor expectedSparsity(const torch::Tensor& expectedSize, std::int64_t prunableParams);

/// The Lagrangian sparsity constraint λ1·(ŝ − t) + λ2·(ŝ − t)² with trainable multipliers
/// "lambda_1", "lambda_2" (scalars, initialised to 0).
///
/// Sign convention: forward() returns the term to be *added* to the loss. The model and log α
/// minimise it; λ must maximise it. The reference does this with a separate AdamW whose group lr is
/// −reg_lr; LibTorch's optimizers reject a negative lr, so here the trainer calls
/// reverseGradients() between backward() and the λ optimizer's step(), which then uses lr = +reg_lr
/// (reference: AdamW, betas (0.9, 0.98), eps 1e-8, weight decay 0). For Adam/AdamW without weight
/// decay and for SGD, negating the gradient gives exactly the step of a negated lr.
class LagrangianImpl : public torch::nn::Module {
 public:
  LagrangianImpl();
  /// λ1·(ŝ − t) + λ2·(ŝ − t)² for expected sparsity ŝ (a scalar tensor) and target t.
  torch::Tensor forward(const torch::Tensor& expectedSparsity, double target);
  /// Negates the gradients of λ1 and λ2 (where defined), turning the next descent step into ascent.
  void reverseGradients();

  /// λ1, the multiplier of (ŝ − t).
  const torch::Tensor& lambda1() const { return lambda1_; }
  /// λ2, the multiplier of (ŝ − t)².
  const torch::Tensor& lambda2() const { return lambda2_; }

 private:
  torch::Tensor lambda1_, lambda2_;
};
TORCH_MODULE(Lagrangian);

/// The target sparsity of the Lagrangian, ramped linearly from `start` to `target` over
/// `warmup_steps` optimizer steps (reference `get_target_sparsity`).
struct TargetRampOptions {
  double start = 0.0;
  double target = 0.0;
  std::int64_t warmup_steps = 0;

  template <class V>
  void visit(V& v) {
    v(start, "start", "target sparsity at step 0 (reference: 0)");
    v(target, "target", "final target sparsity, a fraction of the prunable parameters (reference: 0.25, VQA 0.35)");
    v(warmup_steps, "warmup_steps",
      "optimizer steps of the linear ramp from start to target; 0 = target from the first step (reference: one "
      "epoch of steps)");
  }
  /// Throws unless 0 <= start, target < 1 and warmup_steps >= 0.
  void validate() const;

  /// t(step) = start + (target − start)·min(1, step/warmup_steps); `target` when warmup_steps = 0.
  /// `globalStep` counts optimizer steps since pruning began, across epochs (see HardConcrete.cpp).
  double targetAt(std::int64_t globalStep) const;
};

}  // namespace prunelab::prune
