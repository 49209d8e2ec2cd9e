#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace prunelab::prune {

/// Layer-wise magnitude-style selection over a whole matrix, as the Wanda/SparseGPT repos do
/// (spec-pruners.md §1): thresh = sorted(scores)[int(numel·s)], prune every score <= thresh, so
/// at least int(numel·s)+1 weights go and all ties at the threshold go too. Sparsity 0 prunes
/// nothing (the reference would still remove the smallest weight and its ties; prunelab treats
/// s = 0 as "dense" so that sweeps over sparsity start from the unpruned model).
/// Returns a bool mask, true = keep.
torch::Tensor perMatrixThresholdMask(const torch::Tensor& scores, double sparsity);

/// Supplies a flat score range [begin, end) of one group as a contiguous float32 tensor, so
/// global selection never materialises all scores at once.
struct ScoreSource {
  std::string name;
  std::int64_t numel = 0;
  std::function<torch::Tensor(std::int64_t begin, std::int64_t end)> chunk;
};

/// The global threshold of a ranking over many score groups (design.md §8): the k-th smallest
/// score with k = round(s·total) (PyTorch prune.global_unstructured's count), found by a two-pass
/// 16+16-bit radix histogram over order-preserving float keys, reading each group in chunks:
/// extra memory is two 65536-entry histograms plus one chunk, independent of the model size.
struct GlobalThreshold {
  std::int64_t total = 0;        ///< scores ranked
  std::int64_t toPrune = 0;      ///< k
  std::uint32_t key = 0;         ///< sortable key of the threshold score
  float value = 0;               ///< the threshold score
  std::int64_t countBelow = 0;   ///< scores strictly below the threshold (all pruned)
  std::int64_t tiesToPrune = 0;  ///< how many scores equal to the threshold are pruned too
};

/// Computes the threshold; scores must be finite (NaN/Inf → error naming the group).
GlobalThreshold findGlobalThreshold(const std::vector<ScoreSource>& groups, double sparsity,
                                    std::int64_t chunkSize = 1 << 20);

/// The keep-mask of one group under a global threshold. Ties at the threshold are pruned in
/// group order, then flat index order, until `tieBudget` (shared across groups, decremented) is
/// spent: deterministic, where PyTorch's topk leaves the tie order unspecified.
torch::Tensor globalThresholdMask(const ScoreSource& group, const GlobalThreshold& threshold,
                                  std::int64_t& tieBudget, std::int64_t chunkSize = 1 << 20);

/// Order-preserving map of a float to uint32 (a < b  <=>  key(a) < key(b)), the radix key.
std::uint32_t sortableKey(float x);

/// Fraction of false entries in a keep-mask.
double maskSparsity(const torch::Tensor& keepMask);

/// SHA-256 of a keep-mask's bits (row-major), for reproducibility checks.
std::string maskHash(const torch::Tensor& keepMask);

}  // namespace prunelab::prune
