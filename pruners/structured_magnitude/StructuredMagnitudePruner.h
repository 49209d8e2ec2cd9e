#pragma once

#include <cstdint>
#include <string>

#include <torch/torch.h>

#include "framework/prune/Pruner.h"
#include "pruners/common/StructuredFinetune.h"

namespace prunelab::pruners {

/// Uniform structured pruning by magnitude, the baseline of EfficientVLM's modal-adaptive pruning
/// and, restricted to one modality, its module-sensitivity probe (prune one module at a time,
/// measure the drop). For a prune::StructuredModel (mini_xvlm):
///  - in every gated block of the chosen modality (`module`: all, or one modality such as vision),
///    each attention module (self, and cross) loses round(sparsity·H) of its H heads and the MLP
///    round(sparsity·F) of its F neurons, those whose weights have the smallest L2 norm
///    (StructuredModel::structureMagnitudes; ties: the lower index goes first). Every module thus
///    loses the same share of its heads and of its neurons, so of its prunable parameters;
///  - then, with finetune.steps > 0, the same task fine-tuning with KD as modal_adaptive (the
///    removed structures masked, so the teacher's attention maps still line up), for a comparison
///    at equal training; finetune.steps = 0 is the one-shot probe;
///  - then physical removal (or, physical_removal=false, the binary masks kept installed).
/// Metrics: prune/structured_magnitude/achieved_sparsity and per modality .../<modality>/sparsity
/// (GatedBlock accounting over every block, so a probe's overall figure is its module's share of
/// the whole), heads_kept/neurons_kept, and the fine-tuning losses under .../finetune/*. Layer
/// records: each linear's share of weights removed.
class StructuredMagnitudePruner : public prune::Pruner {
 public:
  struct Options {
    double sparsity = 0.5;
    std::string module = "all";
    std::string structures = "heads+neurons";
    bool physical_removal = true;
    FinetuneOptions finetune;

    template <class V>
    void visit(V& v) {
      v(sparsity, "sparsity", "share of each attention module's heads and of each MLP's neurons removed, in [0, 1)");
      v(module, "module", "which modality's blocks are pruned: all, or one (vision, text, cross) for the probe");
      v(structures, "structures", "heads+neurons, heads or neurons");
      v(physical_removal, "physical_removal",
        "remove the pruned heads and neurons (false: keep binary masks, same outputs, no speed-up)");
      v(finetune, "finetune", "task fine-tuning with the removed structures masked (steps 0: one-shot)");
    }
    /// Throws on out-of-range values, with the fix.
    void validate() const;
  };

  explicit StructuredMagnitudePruner(Options options) : options_(std::move(options)) {}
  void checkModel(const model::Model& model) const override { checkStructuredModel(model, "structured_magnitude", options_.finetune.steps > 0); }
  prune::PruneResult prune(prune::PruneContext& ctx) override;

  /// Binary keep values: the round(sparsity·n) entries of `scores` (per row of [rows, n]) with the
  /// smallest values are 0 (ties: lower index first), the rest 1.
  static torch::Tensor keepLargest(const torch::Tensor& scores, double sparsity);

 private:
  Options options_;
};

}  // namespace prunelab::pruners
