#include "pruners/layerwise/LayerwisePruner.h"

#include "framework/prune/MaskOps.h"

namespace prunelab::pruners {

prune::PruneResult LayerwisePruner::prune(prune::PruneContext& ctx) {
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
