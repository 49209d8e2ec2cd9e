#pragma once

#include <string>

#include "framework/prune/BlockwiseDriver.h"
#include "framework/prune/CoarseScores.h"
#include "framework/prune/FineStep.h"
#include "framework/prune/Pruner.h"

namespace prunelab::pruners {

/// ECoFLaP, coarse-to-fine layer-wise pruning (spec-ecoflap-efficientvlm.md Part 1):
/// 1. coarse: one importance per target matrix on the calibration loss, zeroth order
///    (Σ|L(W+εz)−L(W−εz)|/2ε, forward passes only) or first order (Σ|W|·mean|∇L|), or, for the
///    paper's local-score ablation, the fine step's own saliency on the dense model (localScores), summed (or
///    averaged per weight) over each group (block, matrix or modality);
/// 2. allocation: allocateEcoflap gives each group a sparsity (min-keep under max_sparsity, the
///    rest of the budget in proportion to the group score);
/// 3. fine: the blockwise driver prunes every matrix with the fine step (Wanda per row by default,
///    SparseGPT with reconstruction=obs) at its group's sparsity.
/// Metrics: prune/<group>/ecoflap/{coarse_score, allocated_sparsity, achieved_sparsity} per group
/// and prune/targets/ecoflap/allocated_sparsity overall (the Runner adds the achieved overall).
class EcoflapPruner : public prune::Pruner {
 public:
  struct Options {
    prune::FineStepOptions fine;
    prune::CoarseOptions coarse;
    std::string granularity = "block";
    std::string aggregate = "sum";
    double max_sparsity = -1;
    prune::BlockwiseSettings blockwise;

    template <class V>
    void visit(V& v) {
      fine.visitFields(v);
      v(coarse, "coarse", "the coarse step: order, eps, mode, pair, nsamples, batch_size");
      v(granularity, "granularity", "what shares one sparsity: block (reference), layer (each matrix) or modality");
      v(aggregate, "aggregate", "group score from its matrices: sum (reference `_sum`) or avg (÷ numel, `_avg`)");
      v(max_sparsity, "max_sparsity",
        "no group is pruned beyond this, in [sparsity, 1); -1 means sparsity + 0.1 as every ECoFLaP script");
      blockwise.visitFields(v);
    }
    /// Throws on bad combinations (N:M, max_sparsity below the target), with the fix.
    void validate() const;
    /// max_sparsity, or the reference default sparsity + 0.1 when it is -1.
    double maxSparsity() const;
  };

  explicit EcoflapPruner(Options options) : options_(std::move(options)) {}
  prune::PruneResult prune(prune::PruneContext& ctx) override;

 private:
  Options options_;
};

/// The fine step of an allocating pruner (ECoFLaP, OWL): every target is pruned by the blockwise
/// driver with `fine` at the sparsity `allocation` gives its group in `grouping` (groups formed
/// from `targets`, in order). Adds per group prune/<group>/<method>/{allocated_sparsity,
/// achieved_sparsity} and prune/targets/<method>/allocated_sparsity overall.
prune::PruneResult pruneAtAllocation(prune::PruneContext& ctx, const prune::FineStepOptions& fine,
                                     const prune::BlockwiseSettings& blockwise,
                                     const std::vector<model::LinearRef>& targets, const prune::Grouping& grouping,
                                     const prune::Allocation& allocation, const std::string& method);

}  // namespace prunelab::pruners
