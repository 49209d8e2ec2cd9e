#pragma once

#include <map>
#include <string>

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
///
/// With `module_sparsity` (modality -> sparsity) every matrix gets its modality's ratio instead
/// (prune::allocatePerModule, EfficientVLM's manual per-module baseline) and `sparsity` is unused;
/// metrics prune/<modality>/layerwise/{allocated_sparsity, achieved_sparsity} and
/// prune/targets/layerwise/allocated_sparsity (the numel-weighted mean of the ratios).
class LayerwisePruner : public prune::Pruner {
 public:
  struct Options {
    prune::FineStepOptions fine;
    prune::BlockwiseSettings blockwise;
    std::map<std::string, double> module_sparsity = {};

    template <class V>
    void visit(V& v) {
      fine.visitFields(v);
      blockwise.visitFields(v);
      v(module_sparsity, "module_sparsity",
        "sparsity per modality, e.g. {vision: 0.4, language: 0.6}; replaces `sparsity` when set (empty: every "
        "matrix at `sparsity`)");
    }
    /// Throws on bad fine-step or calibration settings and on per-module ratios N:M cannot honour.
    void validate() const;
  };

  explicit LayerwisePruner(Options options) : options_(std::move(options)) {}
  prune::PruneResult prune(prune::PruneContext& ctx) override;

 private:
  Options options_;
};

}  // namespace prunelab::pruners
