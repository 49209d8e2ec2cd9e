#pragma once

#include <string>

#include "framework/prune/BlockwiseDriver.h"
#include "framework/prune/FineStep.h"
#include "framework/prune/Pruner.h"

namespace prunelab::pruners {

/// OWL, outlier-weighed layerwise sparsity (spec-pruners.md §4, luuyin/OWL `prune_wanda_outlier`):
/// 1. on the dense model, blockwise, each group's outlier ratio: the fraction of the Wanda metrics
///    |W|·‖X_j‖ of all its matrices (one concatenated set per group) above hyper_m × their mean;
/// 2. allocateOwl: sparsities spanning 2λ around the target, lower for more outliers;
/// 3. the fine step (Wanda per row by default) at each group's sparsity, blockwise.
/// Metrics: prune/<group>/owl/{outlier_ratio, allocated_sparsity, achieved_sparsity}.
class OwlPruner : public prune::Pruner {
 public:
  struct Options {
    prune::FineStepOptions fine;
    double lambda = 0.08;
    double hyper_m = 5;
    std::string granularity = "block";
    bool numel_weighted = false;
    prune::BlockwiseSettings blockwise;

    template <class V>
    void visit(V& v) {
      fine.visitFields(v);
      v(lambda, "lambda", "λ: the group sparsities span 2λ around the target (reference: 0.08)");
      v(hyper_m, "hyper_m", "M: a Wanda metric above M × the group mean is an outlier (README: 5; code default: 3)");
      v(granularity, "granularity", "what shares one sparsity: block (reference), layer or modality");
      v(numel_weighted, "numel_weighted",
        "centre the sparsities on the numel-weighted mean, so groups of different sizes still meet the target "
        "(the reference's blocks are all one size)");
      blockwise.visitFields(v);
    }
    /// Throws on bad values and on N:M (which fixes the sparsity), with the fix.
    void validate() const;
  };

  explicit OwlPruner(Options options) : options_(std::move(options)) {}
  prune::PruneResult prune(prune::PruneContext& ctx) override;

 private:
  Options options_;
};

}  // namespace prunelab::pruners
