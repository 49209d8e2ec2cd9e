#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "framework/prune/FineStep.h"
#include "framework/prune/Pruner.h"

namespace prunelab::pruners {

/// Gradual magnitude pruning (Zhu & Gupta 2017; spec-pruners.md §6): a training-time pruner. It
/// fine-tunes the model on `split` with the model's own loss (Model::loss: for mini_blip2 on
/// vqa_train the VQA answer loss, on train the caption loss) and, every `frequency` steps from
/// `begin_step` to `end_step`, raises each target's sparsity along the cubic schedule
///   s_t = s_f + (s_i − s_f)·(1 − p)³,  p = clip((t − begin)/(end − begin), 0, 1)
/// (tfmot PolynomialDecay, power 3). Training continues after end_step at the final sparsity so
/// the model recovers; the pruned weights are zeroed again after every optimiser step, so they
/// stay exactly 0.
///
/// Masks, as tfmot's layer-wise magnitude rule (spec-pruners.md §1): per target matrix keep
/// k = max(round(numel·(1−s_t)), 1) weights, threshold = the k-th largest |w|, keep |w| ≥ threshold
/// (ties kept, so a matrix may land slightly below s_t); masks only grow (new mask AND old mask).
/// pattern=nm: every prune step removes n_t = floor(s_t·m) of each group of m consecutive inputs
/// per row by magnitude (the fine step's N:M selection), ending at nm.n:nm.m; s_f is then n/m and
/// `sparsity` is unused. This gradual N:M (1:4 before 2:4) is prunelab's reading of the schedule
/// for N:M; tfmot's m_by_n mode instead applies the full pattern at once.
///
/// Optimiser: AdamW (β = 0.9, 0.98; weight decay on 2-D weights only), linear warmup then cosine
/// decay, gradient clipping; batches drawn without replacement in a seeded order per pass.
/// Stage "finetune". Metrics: prune/gradual/{scheduled_sparsity, achieved_sparsity} at each
/// prune step (step = training step), prune/gradual/loss (mean over log_every steps), and
/// prune/gradual/final_loss. final sparsity 0 fine-tunes with the same recipe and prunes nothing:
/// the control that separates what pruning costs from what fine-tuning gains.
class GradualMagnitudePruner : public prune::Pruner {
 public:
  struct Options {
    double sparsity = 0.5;
    double initial_sparsity = 0.0;
    std::string pattern = "unstructured";
    prune::NmPattern nm;
    std::int64_t steps = 300;
    std::int64_t begin_step = 0;
    std::int64_t end_step = 200;
    std::int64_t frequency = 20;
    std::string split = "train";
    std::int64_t batch_size = 32;
    double lr = 1e-4;
    std::int64_t warmup_steps = 20;
    double weight_decay = 0.0;
    double grad_clip = 1.0;
    std::int64_t log_every = 25;
    std::vector<std::string> targets = {"*.blocks.*"};
    std::vector<std::string> exclude = {};

    template <class V>
    void visit(V& v) {
      v(sparsity, "sparsity", "final sparsity s_f of every target matrix, in [0, 1) (unused with pattern=nm)");
      v(initial_sparsity, "initial_sparsity", "s_i: the sparsity of the first prune step, in [0, sparsity]");
      v(pattern, "pattern", "unstructured (magnitude per matrix) or nm (gradual N:M ending at nm.n:nm.m)");
      v(nm, "nm", "the final N:M pattern, with pattern=nm");
      v(steps, "steps", "fine-tuning steps in all (pruning runs from begin_step to end_step within them)");
      v(begin_step, "begin_step", "first prune step t0");
      v(end_step, "end_step", "last prune step t0 + nΔt, where the final sparsity is reached (< steps)");
      v(frequency, "frequency", "Δt: steps between mask updates; must divide end_step − begin_step");
      v(split, "split", "data split fine-tuned on (its batches must suit Model::loss, e.g. vqa_train)");
      v(batch_size, "batch_size", "examples per training step");
      v(lr, "lr", "peak learning rate of AdamW");
      v(warmup_steps, "warmup_steps", "linear warmup steps before the cosine decay");
      v(weight_decay, "weight_decay", "AdamW weight decay of the 2-D weights");
      v(grad_clip, "grad_clip", "gradient norm clip (0: none)");
      v(log_every, "log_every", "steps per logged mean loss");
      v(targets, "targets", "globs over canonical linear names to prune");
      v(exclude, "exclude", "globs of linears to keep even if a target pattern matches");
    }
    /// Throws on out-of-range values and schedules that never reach the final sparsity, with the fix.
    void validate() const;
    /// The final sparsity s_f (n/m with pattern=nm).
    double finalSparsity() const;
  };

  explicit GradualMagnitudePruner(Options options) : options_(std::move(options)) {}
  prune::PruneResult prune(prune::PruneContext& ctx) override;

  /// Whether step t updates the masks: begin ≤ t ≤ end and (t − begin) % frequency == 0.
  static bool isPruneStep(const Options& o, std::int64_t step);
  /// The scheduled sparsity s_t at step t.
  static double scheduledSparsity(const Options& o, std::int64_t step);
  /// tfmot's magnitude keep-mask of `weight` at sparsity s: the k = max(round(numel·(1−s)), 1)
  /// largest |w| and every weight tied with the k-th.
  static torch::Tensor magnitudeKeepMask(const torch::Tensor& weight, double sparsity);

 private:
  Options options_;
};

}  // namespace prunelab::pruners
