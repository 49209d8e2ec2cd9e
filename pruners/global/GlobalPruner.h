#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "framework/prune/Pruner.h"

namespace prunelab::pruners {

/// Iterative global pruning, ECoFLaP's "Iterative OBD (global)" baseline (ylsung/ECoFLaP
/// global_pruner.py, BLIPT5AOBDPruner + global_iterative_pruning) and its global-score ablations:
/// for i = 1..n the model is pruned to p_i = s^(n/i) by ranking a per-weight score computed on the
/// current (already pruned) model:
///   score  gradient   |W|·mean_b|∇_W L_b| (the reference's OBD/"aobd" score)
///          fisher     W²·mean_b (∇_W L_b)²
///          magnitude  |W| (no calibration; with scope all it ends at magnitude's global masks)
///   scope  all        one ranking over every target
///          modality   one ranking per modality (the reference's --prune_per_model)
/// Each ranking removes exactly round(p_i·N) of its N weights (Selection.h's chunked global
/// threshold, ties broken in target then index order), with no per-layer cap. The reference takes
/// k = int(p·N) and prunes every score <= the k-th smallest, so it removes more than k when scores
/// tie at the threshold; here the count is exact (and rounded, as global magnitude's). A weight that is already zero
/// (pruned by an earlier iteration) scores −1, below every live weight: the reference multiplies
/// the new scores by the previous mask (score 0), which under its `<=` rule prunes it again; under
/// the exact count the strict order is what keeps it pruned when live weights also score 0.
/// The calibration batches are drawn once and reused by every iteration.
///
/// Stages: "calibrate" (draw the batches; not with magnitude), then per iteration "scores" (the
/// backward passes and the per-weight scores) and "select" (thresholds and masks); the Runner
/// sums the repeated stages' times and keeps their highest peak.
/// Metrics (step = iteration): prune/<ranking>/global/{scheduled_sparsity, achieved_sparsity,
/// threshold}, with <ranking> `targets` (scope all) or the modality; with scope all also
/// prune/<modality>/global/achieved_sparsity.
class GlobalPruner : public prune::Pruner {
 public:
  struct Options {
    double sparsity = 0.5;
    std::string score = "gradient";
    std::int64_t iterations = 3;
    std::string scope = "modality";
    std::vector<std::string> targets = {"*.blocks.*"};
    std::vector<std::string> exclude = {};
    std::string calib_split = "train";
    std::int64_t nsamples = 128;
    std::int64_t batch_size = 1;

    template <class V>
    void visit(V& v) {
      v(sparsity, "sparsity", "fraction of each ranking's weights removed after the last iteration, in [0, 1)");
      v(score, "score",
        "gradient (|W|·mean|∇L|, the reference), fisher (W²·mean ∇L²) or magnitude (|W|, no calibration)");
      v(iterations, "iterations",
        "prune-and-rescore rounds; round i prunes to s^(iterations/i) overall (reference: 3)");
      v(scope, "scope", "all (one ranking over every target) or modality (one per modality, --prune_per_model)");
      v(targets, "targets", "globs over canonical linear names to prune");
      v(exclude, "exclude", "globs of linears to keep even if a target pattern matches");
      v(calib_split, "calib_split", "data split the calibration samples come from");
      v(nsamples, "nsamples", "calibration samples of the gradient and fisher scores (reference: 128)");
      v(batch_size, "batch_size", "samples per backward pass (reference: 1)");
    }
    /// Throws on out-of-range values and unknown names, with the fix.
    void validate() const;
  };

  explicit GlobalPruner(Options options) : options_(std::move(options)) {}
  prune::PruneResult prune(prune::PruneContext& ctx) override;

  /// The sparsity round i (1-based) of n aims at: s^(n/i), the reference's schedule.
  static double scheduledSparsity(double sparsity, std::int64_t iteration, std::int64_t iterations);

 private:
  Options options_;
};

}  // namespace prunelab::pruners
