#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace prunelab::prune {

/// SparseGPT's input Hessian of one Linear (SparseGPT.add_batch): H = (2/N)·Σ x xᵀ over every
/// token of every calibration sequence, in fp32, kept as a running mean where N counts sequences,
/// not tokens, as the reference does (spec-pruners.md §3). On CUDA the product follows the global
/// TF32 switch; the reference turns TF32 off, and so should the caller.
struct HessianAccumulator {
  /// Adds one batch of the Linear's input: [B, L, in] (B sequences; more leading dims fold into
  /// the tokens of the B sequences) or [L, in] (counted as one sequence, like the reference).
  void add(const torch::Tensor& input);

  torch::Tensor h;            ///< fp32 [in, in]; undefined until the first add
  std::int64_t nsamples = 0;  ///< sequences seen
};

/// Settings of one SparseGPT prune; the defaults are the reference's. Declared once in `visit`
/// (framework/core/Options.h), so a pruner can embed it in its own options.
struct SparseGptOptions {
  double sparsity = 0.5;
  std::int64_t blocksize = 128;
  double percdamp = 0.01;
  std::int64_t prunen = 0;
  std::int64_t prunem = 0;
  int maxDampRetries = 4;

  template <class V>
  void visit(V& v) {
    v(sparsity, "sparsity", "fraction of weights removed, in [0, 1); ignored in N:M mode");
    v(blocksize, "blocksize", "columns per adaptive-mask block and per lazy update (reference: 128)");
    v(percdamp, "percdamp", "Hessian damping as a fraction of mean(diag H) (reference: 0.01)");
    v(prunen, "prunen", "N of N:M sparsity (pruned per group of M); 0 = unstructured");
    v(prunem, "prunem", "M of N:M sparsity (group width along the input dimension)");
    v(maxDampRetries, "max_damp_retries", "Cholesky retries, each with 10x the damping, before giving up");
  }
  /// Range checks (shape-dependent ones happen in sparseGptPrune).
  void validate() const;
};

/// The outcome of one SparseGPT prune.
struct SparseGptResult {
  torch::Tensor weight;    ///< pruned and OBS-updated weight, in the input weight's dtype
  torch::Tensor keepMask;  ///< bool [out, in], true = kept; the weight is exactly 0 elsewhere (and in dead inputs)
  double dampUsed = 0;     ///< the percdamp that let the Cholesky factorisations succeed
  int dampRetries = 0;     ///< how many times the damping was raised
  double loss = 0;         ///< the reference's OBS loss estimate, Σ (w−q)²/d² / 2
};

/// SparseGPT (IST-DASLab/sparsegpt `fasterprune`, spec-pruners.md §3) on `weight` [out, in] with
/// its Hessian [in, in]: dead inputs (H_ii = 0) are zeroed, H is damped by percdamp·mean(diag H)
/// and inverted through Cholesky, then columns are pruned block by block with the adaptive mask
/// (unstructured: per block, every entry with w²/d² <= the int(numel·s)-th smallest goes; N:M:
/// the N smallest w²/d² of each group of M, ties lowest index first) and each pruned column's
/// error is propagated to the later columns, lazily across blocks. Computation is in fp32.
/// Sparsity 0 prunes nothing (the reference would still drop each block's smallest saliency and
/// its ties), matching perMatrixThresholdMask.
/// When a factorisation fails the damping is raised 10× (from 0.01 if it was 0) up to
/// maxDampRetries times before a clear error. The caller's tensors are not modified.
SparseGptResult sparseGptPrune(const torch::Tensor& weight, const torch::Tensor& hessian,
                               const SparseGptOptions& options);

/// SparseGPT's per-weight saliency w²/d² on the unpruned weight (d_j = U_jj, UᵀU the damped H⁻¹,
/// damping raised on a failed factorisation as sparseGptPrune does): what its adaptive mask ranks
/// within the first block, before any OBS update has moved the weights. Dead inputs score 0. fp32
/// [out, in] on the weight's device. Used as the "local SparseGPT score" of ECoFLaP's ablation.
torch::Tensor sparseGptSaliency(const torch::Tensor& weight, const torch::Tensor& hessian,
                                const SparseGptOptions& options);

namespace detail {
/// How the within-block column loop is run: per row with scalar loops (CPU), or as the
/// reference's tensor ops (any device). Exposed so tests can check that the two agree.
enum class ColumnLoop { kAuto, kRowScalar, kTensorOps };

/// sparseGptPrune with the column loop chosen explicitly (kAuto: kRowScalar on CPU).
SparseGptResult sparseGptPruneWith(const torch::Tensor& weight, const torch::Tensor& hessian,
                                   const SparseGptOptions& options, ColumnLoop loop);
}  // namespace detail

}  // namespace prunelab::prune
