#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace prunelab::prune {

/// Wanda's per-output-row selection (spec-pruners.md §2): every row of `scores` ([out, in]) loses
/// exactly int(in·s) entries, the same ones as `torch.sort(S, dim=-1, stable=True)` followed by
/// pruning the first int(in·s) indices, so ties go at the lower column index first. Found by a
/// per-row nth_element, not a sort (design.md §8). Sparsity 0 (or int(in·s) = 0) prunes nothing.
/// NaN scores are an error. Selection runs on the CPU; the mask (bool, true = keep) is returned on
/// the scores' device.
torch::Tensor perRowMask(const torch::Tensor& scores, double sparsity);

/// N:M selection (spec-pruners.md §1, §2): in each group of `m` consecutive input columns of each
/// row, the `n` smallest scores are pruned ("2:4" = 2 pruned of every 4). The reference's topk
/// leaves the tie order unspecified; here equal scores are pruned lowest column index first.
/// Requires 1 <= n < m and in % m == 0. Returns a bool mask, true = keep.
torch::Tensor nmMask(const torch::Tensor& scores, std::int64_t n, std::int64_t m);

/// What the Wanda variant's bisection (`--use_variant`) ended with.
struct WandaVariantResult {
  torch::Tensor keepMask;  ///< bool, true = keep
  double alpha = 0;        ///< fraction of each row's score mass that is pruned
  double sparsity = 0;     ///< achieved fraction of pruned entries over the matrix
  int iterations = 0;      ///< alphas evaluated, the starting 0.4 included
};

/// Wanda's `--use_variant` selection (spec-pruners.md §2): each row prunes its smallest scores
/// while their cumulative sum stays <= α·(row sum), pruning ties of the last one too, with α
/// bisected from 0.4 in [0, 0.8] until |achieved − s| <= 0.001 or the bracket is narrower than
/// 0.001. Counts differ per row. A row whose smallest score alone exceeds α·(row sum) prunes
/// nothing (the reference indexes position −1 there and fails). Sparsity 0 prunes nothing.
WandaVariantResult wandaVariantSelect(const torch::Tensor& scores, double sparsity);

/// The keep-mask of wandaVariantSelect.
torch::Tensor wandaVariantMask(const torch::Tensor& scores, double sparsity);

/// Wanda's score S_ij = |W_ij|·sqrt(scaler_row_j) in fp32 (spec-pruners.md §2); `inputSqNormMean`
/// is WandaStats::scalerRow of the layer's inputs ([in]).
torch::Tensor wandaScores(const torch::Tensor& weight, const torch::Tensor& inputSqNormMean);

/// Wanda's input statistic of one Linear (WrappedGPT.add_batch): scaler_row_j = (1/N)·Σ x_j² over
/// every token of every calibration sequence, kept as a running mean in fp32 where N counts
/// sequences, not tokens, as the reference does.
struct WandaStats {
  /// Adds one batch of the Linear's input: [B, L, in] (B sequences; more leading dims fold into
  /// the tokens of the B sequences) or [L, in] (counted as one sequence, like the reference's
  /// unsqueeze(0)).
  void add(const torch::Tensor& input);

  torch::Tensor scalerRow;    ///< fp32 [in]; undefined until the first add
  std::int64_t nsamples = 0;  ///< sequences seen
};

}  // namespace prunelab::prune
