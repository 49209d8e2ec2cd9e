#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "framework/prune/HardConcrete.h"
#include "framework/prune/Pruner.h"
#include "pruners/common/StructuredFinetune.h"

namespace prunelab::pruners {

/// EfficientVLM's modal-adaptive structured pruning (spec-ecoflap-efficientvlm.md §2.2–§2.5): a
/// training-time pruner for a model that is a prune::StructuredModel and a model::DistilledModel
/// (mini_xvlm with task=vqa or retrieval). It fine-tunes the model on its task with the task loss
/// plus KD from the dense fine-tuned teacher (the spec's formula for the task, TaskKdFormula) plus
/// the Lagrangian λ1·(ŝ − t) + λ2·(ŝ − t)² over hard-concrete gates on every attention head
/// (self and cross) and every MLP neuron of the gated stacks: ONE constraint over all of them, so
/// the losses decide how sparse each modality ends up.
///
///  - Gates: one log α per head (init N(10, 0.01²), clamped to [ln 0.01, ln 100] after each step)
///    and per neuron (init N(0, 0.01²)); a fresh sample z on every step multiplies each head's
///    output and each neuron's activation. ŝ = 1 − E[kept parameters]/M (prune::GatedBlock
///    accounting); t ramps linearly from 0 to `sparsity` over ramp·steps steps, once (the reference
///    restarts the ramp every epoch; see TargetRampOptions).
///  - Optimisers: the model's AdamW with a linear schedule (finetune.*), log α AdamW at reg_lr, λ by
///    gradient ascent (AdamW at reg_lr on the negated gradient; betas 0.9, 0.98, no decay).
///  - From freeze·steps on, the gates are binary and fixed, and only the weights keep training (the
///    reference freezes VQA masks at epoch 10 of 20; freeze = 1 freezes at the end only). Which
///    gates close: final_gates=expected is the reference's deterministic z (per attention module and
///    per MLP, the round(n − Σ P(z≠0)) gates with the smallest log α are 0, the rest 1), which lands
///    on the target only once ŝ has converged (the reference trains ~10 epochs); with the few
///    hundred steps of mini_xvlm the Lagrangian is still swinging around t then, so the default
///    final_gates=budget closes the lowest-log α gates over all modalities until exactly the
///    target share is removed (budgetGates): the learned ranking decides where, the target how
///    much — a deliberate deviation, so that methods compare at the same sparsity.
///  - Then the binary gates are applied by physical removal (StructuredModel::removeStructures):
///    smaller matrices, a checkpoint that reloads (save_checkpoint=true).
/// `structures: heads` gates the heads only (Voita et al.'s head gates as an ablation of the same
/// machinery; M then counts the attention parameters only), `neurons` the MLPs only; `modalities`
/// restricts the gates to some stacks' modalities.
///
/// Metrics: prune/modal_adaptive/{expected_sparsity, target, lambda_1, lambda_2} every log_every
/// steps; the learned sparsity prune/modal_adaptive/achieved_sparsity and per modality
/// prune/modal_adaptive/<modality>/sparsity (with heads_kept, neurons_kept) of the binary gates;
/// the fine-tuning losses prune/modal_adaptive/finetune/*. Layer records: each linear's share of
/// weights removed. Stages "teacher", "finetune".
class ModalAdaptivePruner : public prune::Pruner {
 public:
  struct Options {
    double sparsity = 0.5;
    std::string structures = "heads+neurons";
    std::vector<std::string> modalities = {};
    std::string constraint = "lagrangian";
    double l0_penalty = 0.1;
    double reg_lr = 0.05;
    double lambda_lr = -1;
    double ramp = 0.3;
    double freeze = 0.7;
    std::string final_gates = "budget";
    bool physical_removal = true;
    prune::HardConcreteOptions hard_concrete;
    FinetuneOptions finetune;
    std::int64_t log_every = 25;

    template <class V>
    void visit(V& v) {
      v(sparsity, "sparsity", "target sparsity t: the fraction of the gated parameters (heads, MLPs) to remove");
      v(structures, "structures", "what is gated: heads+neurons (EfficientVLM), heads (Voita et al.) or neurons");
      v(modalities, "modalities", "gate only the blocks of these modalities (e.g. [vision, cross]); [] = all");
      v(constraint, "constraint",
        "lagrangian (λ1(ŝ−t) + λ2(ŝ−t)², EfficientVLM) or penalty (Voita et al.: l0_penalty · mean P(z≠0), no "
        "target; `sparsity` is then unused)");
      v(l0_penalty, "l0_penalty", "constraint=penalty: weight of the mean gate-open probability");
      v(reg_lr, "reg_lr",
        "AdamW learning rate of log α and of λ's ascent (reference: 0.01, NLVR2 0.1, at ~10 epochs of COCO)");
      v(lambda_lr, "lambda_lr",
        "AdamW learning rate of λ's ascent; -1 = reg_lr as the reference. With a few hundred steps a faster λ "
        "(e.g. 1) turns around before ŝ overshoots the target (no integral windup)");
      v(ramp, "ramp", "share of the steps over which the target ramps from 0 to `sparsity`");
      v(freeze, "freeze", "share of the steps after which the gates are frozen binary (1 = only at the end)");
      v(final_gates, "final_gates",
        "how the binary gates are chosen at the freeze: budget (rank every gate by log α, lowest first, and close "
        "them until exactly the target share of the gated parameters is removed) or expected (the reference: per "
        "module, round(n − Σ P(z≠0)) gates closed, which meets the target only once ŝ has converged)");
      v(physical_removal, "physical_removal",
        "remove the pruned heads and neurons (false: keep the binary gates as masks, same outputs, no speed-up)");
      v(hard_concrete, "hard_concrete", "the hard-concrete distribution (reference constants)");
      v(finetune, "finetune", "the task fine-tuning around the gates (steps, lr, KD formula)");
      v(log_every, "log_every", "steps between the sparsity/λ metrics");
    }
    /// Throws on out-of-range values, with the fix.
    void validate() const;
  };

  explicit ModalAdaptivePruner(Options options) : options_(std::move(options)) {}
  void checkModel(const model::Model& model) const override { checkStructuredModel(model, "modal_adaptive", true); }
  prune::PruneResult prune(prune::PruneContext& ctx) override;

  /// final_gates=budget: binary keep values for `layout` (one head tensor of headGates() and one
  /// neuron tensor of mlpDim log α per block, undefined where not gated): every gate ranked by log
  /// α (ascending; ties in layout order, heads before neurons within a block), then closed in that
  /// order while the removed parameters (paramsPerHead / paramsPerCrossHead / paramsPerNeuron
  /// each) stay within `sparsity`·M plus half the next gate's cost; the first gate that does not
  /// fit ends it, so the closed gates are a prefix of the ranking.
  static prune::StructureValues budgetGates(const std::vector<prune::GatedBlock>& layout,
                                            const prune::StructureValues& logAlpha, double sparsity);

 private:
  Options options_;
};

}  // namespace prunelab::pruners
