#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace prunelab::prune {

// Layer-sparsity allocation (design.md §3): how sparse each group (one matrix, or one block of
// matrices) is, given an overall target. Plain data in, plain data out, no LibTorch, so the
// `prunelab allocate` verb and the pruner plugins call the very same functions. The `global`
// allocation (one ranking of a score over all targets) lives in Selection.h: its ratios are
// implied by the global threshold, not computed here.

/// One unit that receives a single sparsity: a matrix (layer granularity) or a block of matrices.
struct AllocationGroup {
  std::string name;         ///< e.g. "vision.blocks.3" or "language.blocks.0.mlp.fc1"
  std::string modality;     ///< e.g. "vision", "language"; what per_module ratios are keyed by
  std::int64_t numel = 0;   ///< number of prunable weights in the group (> 0)
  double score = 0;         ///< ECoFLaP importance (>= 0, e.g. Σ|ΔL|/2ε over the group)
  double outlierRatio = 0;  ///< OWL layerwise outlier distribution (LOD), any fixed scale
};

/// The result of an allocation: one sparsity per group, in the order of the groups.
struct Allocation {
  std::vector<double> sparsity;    ///< per group, the fraction of its weights to remove
  double achieved = 0;             ///< numel-weighted overall sparsity of `sparsity`
  int iterations = 0;              ///< ECoFLaP: proportional passes until the budget was met; else 0
  std::vector<std::int64_t> keep;  ///< ECoFLaP: weights kept per group (sparsity = 1 − keep/numel); else empty
};

/// Numel-weighted mean of per-group sparsities: Σ nᵢ·sᵢ / Σ nᵢ.
double weightedSparsity(const std::vector<AllocationGroup>& groups, const std::vector<double>& sparsities);

/// Every group gets `sparsity` (Wanda/SparseGPT's uniform baseline).
Allocation allocateUniform(const std::vector<AllocationGroup>& groups, double sparsity);

/// Fixed ratio per modality (EfficientVLM's manual per-module baseline). A group whose modality
/// has no ratio is an error listing all such modalities; ratios for absent modalities are unused.
Allocation allocatePerModule(const std::vector<AllocationGroup>& groups,
                             const std::map<std::string, double>& ratioPerModality);

/// ECoFLaP's coarse-step allocation (spec-ecoflap-efficientvlm.md §1.4, `compute_the_sparsity_per_group`):
/// keep = ⌊N(1−s)⌋ weights overall; every group first keeps ⌈nᵢ(1−s_max)⌉ (so none is sparser
/// than s_max), then the remaining budget is split in proportion to the raw group score (not per
/// weight), rounding each share up, capping at nᵢ and re-splitting what capped groups could not
/// take, until the budget is met; rounding overshoot is taken back from the groups that keep the
/// most (largest first, ties in group order), never below their minimum. `maxSparsity` defaults
/// to min(s + 0.1, 1), as every released ECoFLaP script sets it.
///
/// Deliberate deviations from the reference code, each only where the reference is broken:
///  - overshoot: the reference adds the excess again (`+=`) instead of removing it and floors the
///    minimum it may remove down to (int instead of ceil, so s_max can be broken by one weight);
///    here the excess is removed, down to the ceil minimum, and Σ keep equals the budget exactly;
///  - ⌊N(1−s)⌋, ⌈n(1−s_max)⌉ and each share's ceil snap to the integer they equal in exact
///    arithmetic (e.g. 100·(1−0.7) = 30.000000000000004 keeps 30, not 31);
///  - once every scored group is full, the rest goes to the remaining (zero-score) groups in group
///    order (the spec's fill branch); the reference divides by a zero score sum there (NaN);
///  - when the minima alone exceed the budget (s_max = s up to rounding), the minima are kept: the
///    overall keep then exceeds the budget by at most one weight per group, s_max stays exact.
/// Scores must be finite and >= 0 with a positive sum.
Allocation allocateEcoflap(const std::vector<AllocationGroup>& groups, double sparsity,
                           std::optional<double> maxSparsity = std::nullopt);

/// OWL (spec-pruners.md §4, luuyin/OWL `prune_wanda_outlier`): from each group's outlier ratio D,
/// density rᵢ = (Dᵢ−min D)/(max D−min D)·2λ − mean(…) + (1−s), sparsity sᵢ = 1−rᵢ, and sᵢ <= 0
/// becomes 0.01 as in the reference. Higher outlier ratio → lower sparsity; the sparsities span 2λ.
/// The reference centres on the unweighted mean (its blocks all have one size); with
/// `numelWeightedMean` the centre is the numel-weighted mean instead, so that groups of different
/// sizes (a ViT block vs. a T5 block) still meet the overall target. All-equal D (0/0 in the
/// reference) gives uniform s. A group pushed to sparsity >= 1 is an error (λ too large).
Allocation allocateOwl(const std::vector<AllocationGroup>& groups, double sparsity, double lambda,
                       bool numelWeightedMean = false);

/// A contiguous run of scores (e.g. one matrix of a block), so a block's outlier ratio needs no
/// concatenated copy.
struct ScoreSpan {
  const float* data = nullptr;
  std::int64_t size = 0;
};

/// OWL's layerwise outlier distribution over all scores of `parts` (typically the Wanda metrics
/// |W|·‖X_j‖ of every matrix of one block): the fraction of scores strictly greater than M·mean,
/// as a fraction in [0, 1] (the reference returns a percentage; allocateOwl is scale-invariant).
double outlierRatio(const std::vector<ScoreSpan>& parts, double M);

/// outlierRatio over one vector of scores.
double outlierRatio(const std::vector<float>& scores, double M);

/// How groups are formed from matrices (ECoFLaP `--sparsity_ratio_granularity`).
enum class Granularity {
  Layer,     ///< one group per matrix
  Block,     ///< one group per block: the name up to its first numeric part ("vision.blocks.3")
  Modality,  ///< one group per modality (the reference's `model`)
};

/// How a group's score comes from its matrices' scores (the `_sum` / `_avg` score-method suffix).
enum class ScoreAggregate {
  Sum,  ///< Σ matrix scores (BLIP-2, CLIP, EVA-ViT, LLaMA)
  Avg,  ///< Σ matrix scores / Σ numel (FlanT5-only)
};

/// The group a matrix belongs to under `granularity`. Block granularity cuts the dotted name
/// after its first all-digit part ("vision.blocks.3.attn.qkv" → "vision.blocks.3", and the
/// reference's "t5_model.encoder.block.7.layer.0…" → "t5_model.encoder.block.7"); a name with no
/// such part is an error.
std::string groupKey(const std::string& matrixName, const std::string& modality, Granularity granularity);

/// Matrices gathered into allocation groups, and where each matrix went.
struct Grouping {
  std::vector<AllocationGroup> groups;  ///< in order of first appearance
  std::vector<std::size_t> groupOf;     ///< per input matrix, its index in `groups`
};

/// Forms allocation groups from per-matrix entries: numel summed, score summed (÷ numel for Avg),
/// outlierRatio the numel-weighted mean of the matrices' ratios. That mean only approximates OWL,
/// which computes a block's ratio over the block's concatenated scores: for the reference value
/// call outlierRatio with one ScoreSpan per matrix of the block and group at the Block level.
Grouping groupMatrices(const std::vector<AllocationGroup>& matrices, Granularity granularity,
                       ScoreAggregate aggregate = ScoreAggregate::Sum);

/// Each matrix's sparsity: the sparsity of its group.
std::vector<double> matrixSparsities(const Grouping& grouping, const Allocation& allocation);

}  // namespace prunelab::prune
