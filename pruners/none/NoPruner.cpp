#include "pruners/none/NoPruner.h"

#include "framework/prune/MaskOps.h"
#include "framework/prune/Targets.h"

namespace prunelab::pruners {

prune::PruneResult NoPruner::prune(prune::PruneContext& ctx) {
  prune::PruneResult result;
  for (const auto& t : prune::selectTargets(ctx.model.linears(), options_.targets))
    result.layers.push_back(prune::describeLayer(t, 0.0));
  return result;
}

}  // namespace prunelab::pruners
