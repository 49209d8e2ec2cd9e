#pragma once

#include "framework/prune/BlockwiseDriver.h"
#include "framework/prune/FineStep.h"
#include "framework/prune/Pruner.h"

namespace prunelab::pruners {

/// Layer-wise uniform post-training pruning through the blockwise calibration driver
/// (spec-pruners.md §0–§3): every target matrix gets the same sparsity and is pruned by the fine
/// step (prune::pruneMatrix) from the statistics of its calibration inputs. The presets make it
/// Wanda (score=wanda, selection=per_row | per_matrix | nm | variant) or SparseGPT
/// (reconstruction=obs, selection=adaptive | nm); score=magnitude with per_row is the
/// row-wise magnitude ablation.
class LayerwisePruner : public prune::Pruner {
 public:
  struct Options {
    prune::FineStepOptions fine;
    prune::BlockwiseSettings blockwise;

    template <class V>
    void visit(V& v) {
      fine.visitFields(v);
      blockwise.visitFields(v);
    }
    void validate() const {
      fine.validate();
      blockwise.validate();
    }
  };

  explicit LayerwisePruner(Options options) : options_(std::move(options)) {}
  prune::PruneResult prune(prune::PruneContext& ctx) override;

 private:
  Options options_;
};

}  // namespace prunelab::pruners
