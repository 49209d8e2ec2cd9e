#include "pruners/layerwise/LayerwisePruner.h"

#include <cmath>

#include "framework/core/Error.h"
#include "framework/prune/Allocation.h"
#include "framework/prune/CoarseScores.h"
#include "framework/prune/MaskOps.h"
#include "framework/prune/Targets.h"
#include "pruners/ecoflap/EcoflapPruner.h"

namespace prunelab::pruners {

void LayerwisePruner::Options::validate() const {
  fine.validate();
  blockwise.validate();
  if (module_sparsity.empty()) return;
  PL_CHECK(fine.selection != "nm",
           "module_sparsity gives each modality its own sparsity, but selection=nm fixes every matrix at n/m: use "
           "selection=per_row or per_matrix (or adaptive with reconstruction=obs), or drop module_sparsity");
  for (const auto& [modality, ratio] : module_sparsity)
    PL_CHECK(std::isfinite(ratio) && ratio >= 0.0 && ratio < 1.0,
             "module_sparsity.{} must be in [0, 1), got {}: it is the fraction of that modality's weights removed",
             modality, ratio);
}

prune::PruneResult LayerwisePruner::prune(prune::PruneContext& ctx) {
  if (!options_.module_sparsity.empty()) {
    // One group per modality, so the shared allocating path records per-modality metrics.
    const auto targets =
        prune::selectTargets(ctx.model.linears(), options_.blockwise.targets, options_.blockwise.exclude);
    const auto grouping = prune::groupMatrices(prune::matrixEntries(targets, std::vector<double>(targets.size(), 0.0)),
                                               prune::Granularity::Modality);
    const auto allocation = prune::allocatePerModule(grouping.groups, options_.module_sparsity);
    return pruneAtAllocation(ctx, options_.fine, options_.blockwise, targets, grouping, allocation, "layerwise");
  }
  prune::BlockwiseCallbacks callbacks;
  const bool needsInputs = options_.fine.needsSqNorms() || options_.fine.needsHessian();
  if (needsInputs)
    callbacks.makeObserver = [this](const model::LinearRef&) {
      return std::make_unique<prune::InputStatsCollector>(options_.fine);
    };
  callbacks.pruneLayer = [this](const model::LinearRef& ref, prune::LayerObserver* observer) {
    prune::InputStats stats;
    if (observer) stats = static_cast<prune::InputStatsCollector*>(observer)->stats(ref.name);
    return prune::pruneLayer(ref, stats, options_.fine);
  };
  return prune::pruneBlockwise(ctx, options_.blockwise, callbacks);
}

}  // namespace prunelab::pruners
