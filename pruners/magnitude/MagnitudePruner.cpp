#include "pruners/magnitude/MagnitudePruner.h"

#include "framework/core/Progress.h"
#include "framework/prune/FineStep.h"
#include "framework/prune/MaskOps.h"
#include "framework/prune/Selection.h"
#include "framework/prune/Targets.h"

namespace prunelab::pruners {

prune::PruneResult MagnitudePruner::prune(prune::PruneContext& ctx) {
  auto targets = prune::selectTargets(ctx.model.linears(), options_.targets, options_.exclude);
  for (const auto& t : targets) prune::checkFiniteWeights(t);
  prune::PruneResult result;
  Progress progress("magnitude " + options_.allocation, static_cast<std::int64_t>(targets.size()), "layer");
  if (options_.allocation == "uniform") {
    for (const auto& t : targets) {
      prune::FineStepOptions fine;
      fine.score = "magnitude";
      fine.selection = "per_matrix";
      fine.sparsity = options_.sparsity;
      result.layers.push_back(prune::pruneLayer(t, {}, fine));
      progress.advance();
    }
    return result;
  }
  // Global: scores are read in chunks straight from the weights, so no copy of all |W| exists.
  std::vector<prune::ScoreSource> sources;
  for (const auto& t : targets) {
    torch::Tensor w = t.layer->weight.detach();
    sources.push_back({t.name, w.numel(), [w](std::int64_t b, std::int64_t e) {
                         return w.reshape({-1}).slice(0, b, e).abs().to(torch::kFloat32);
                       }});
  }
  const auto threshold = prune::findGlobalThreshold(sources, options_.sparsity);
  std::int64_t ties = threshold.tiesToPrune;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    auto mask = prune::globalThresholdMask(sources[i], threshold, ties).reshape(targets[i].layer->weight.sizes());
    result.layers.push_back(prune::applyMask(targets[i], mask, options_.sparsity));
    progress.advance();
  }
  return result;
}

}  // namespace prunelab::pruners
