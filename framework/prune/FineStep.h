#pragma once

#include <cstdint>
#include <string>

#include <torch/torch.h>

#include "framework/model/PrunableLinear.h"
#include "framework/prune/BlockwiseDriver.h"
#include "framework/prune/RowSelection.h"
#include "framework/prune/SparseGpt.h"
#include "framework/store/RunStore.h"

namespace prunelab::prune {

/// The N:M pattern: `n` pruned in every group of `m` consecutive inputs.
struct NmPattern {
  std::int64_t n = 2;
  std::int64_t m = 4;

  template <class V>
  void visit(V& v) {
    v(n, "n", "N of N:M: weights pruned in each group of M consecutive inputs");
    v(m, "m", "M of N:M: the group width along the input dimension");
  }
};

/// The per-matrix ("fine") step of design.md §3: score × selection × reconstruction applied to
/// one weight matrix, given what its calibration inputs showed. The layer-wise pruners, ECoFLaP's
/// fine step and `prunelab prune-matrix` all run this one function, so a layer pruned inside a run
/// and the same layer pruned from files get the same mask.
///
///   score           magnitude |W| | wanda |W|·‖X_j‖ (spec-pruners.md §1–2)
///   selection       per_row (exactly int(in·s) per row, stable tie order) | per_matrix (threshold,
///                   ties pruned) | nm | variant (Wanda's adaptive α); with reconstruction=obs:
///                   adaptive (SparseGPT's per-block w²/d² mask) | nm
///   reconstruction  none | obs (SparseGPT, spec-pruners.md §3; its own saliency replaces `score`)
///
/// Declared once with `visitFields`, so a pruner's options hold these keys at top level
/// (pruner.score, pruner.nm.n, pruner.blocksize, ...).
struct FineStepOptions {
  double sparsity = 0.5;
  std::string score = "wanda";
  std::string selection = "per_row";
  std::string reconstruction = "none";
  NmPattern nm;
  std::int64_t blocksize = 128;
  double percdamp = 0.01;
  int max_damp_retries = 4;

  template <class V>
  void visitFields(V& v) {
    v(sparsity, "sparsity", "fraction of each target's weights to remove, in [0, 1); N:M sets its own");
    v(score, "score", "magnitude (|W|) or wanda (|W|·‖X‖); unused with reconstruction=obs");
    v(selection, "selection", "per_row, per_matrix, nm or variant; with reconstruction=obs: adaptive or nm");
    v(reconstruction, "reconstruction", "none, or obs (SparseGPT's Hessian-based weight update)");
    v(nm, "nm", "N:M pattern, with selection=nm");
    v(blocksize, "blocksize", "obs: columns per adaptive-mask block and lazy update (reference: 128)");
    v(percdamp, "percdamp", "obs: Hessian damping as a fraction of mean(diag H) (reference: 0.01)");
    v(max_damp_retries, "max_damp_retries", "obs: Cholesky retries, each with 10x the damping");
  }
  /// Throws on unknown names, unsupported combinations and out-of-range values, with the fix.
  void validate() const;

  /// Throws when the options cannot apply to an [out, in] matrix (N:M whose m does not divide in).
  void checkShape(std::int64_t out, std::int64_t in) const;
  /// The sparsity the selection aims at: n/m for N:M, else `sparsity`.
  double targetSparsity() const;
  /// Whether the step needs the inputs' squared norms (wanda score, not with obs).
  bool needsSqNorms() const { return reconstruction == "none" && score == "wanda"; }
  /// Whether the step needs the inputs' Hessian (obs).
  bool needsHessian() const { return reconstruction == "obs"; }
  /// The SparseGPT settings these options amount to (obs only).
  SparseGptOptions sparseGpt() const;
};

/// What the calibration inputs of one matrix showed: Wanda's running mean of squared input
/// norms ([in], WandaStats::scalerRow) and/or SparseGPT's Hessian ([in, in]); each defined only
/// when the options need it.
struct InputStats {
  torch::Tensor sqNorms;
  torch::Tensor hessian;
  std::int64_t nsamples = 0;  ///< sequences the statistics were accumulated over
};

/// Accumulates exactly the InputStats a FineStepOptions needs, from every input batch of one
/// Linear, in the blockwise driver's dense pass or from files (the same `add`).
class InputStatsCollector : public LayerObserver {
 public:
  explicit InputStatsCollector(const FineStepOptions& options);
  /// One batch of inputs: [B, L, in] (B sequences) or [L, in] (one sequence), as WandaStats.
  void add(const torch::Tensor& input);
  void observe(const torch::Tensor& input) override { add(input); }
  /// The statistics so far; an error naming `what` when no input was seen but some are needed.
  InputStats stats(const std::string& what) const;

 private:
  bool sqNorms_ = false, hessian_ = false;
  WandaStats wanda_;
  HessianAccumulator h_;
};

/// The outcome of one fine step.
struct FineStepResult {
  torch::Tensor keepMask;  ///< bool [out, in], true = keep
  torch::Tensor weight;    ///< the new weight (input dtype): the input with pruned entries zeroed, or OBS-updated
  double targetSparsity = 0;
  double dampUsed = 0;     ///< obs: the damping that let the factorisation succeed
  int dampRetries = 0;     ///< obs: how often the damping was raised
};

/// Prunes one matrix `weight` [out, in] with `stats` of its inputs. Shapes of the statistics must
/// match the weight's input width (errors name what is wrong); N:M needs in % m == 0. `weight`
/// itself is not modified.
FineStepResult pruneMatrix(const torch::Tensor& weight, const InputStats& stats, const FineStepOptions& options);

/// pruneMatrix on one Linear of a model: its weight becomes the result (zeros where pruned) and
/// its record (target vs achieved sparsity, mask hash) is returned; errors name the layer.
store::LayerRecord pruneLayer(const model::LinearRef& layer, const InputStats& stats, const FineStepOptions& options);

}  // namespace prunelab::prune
