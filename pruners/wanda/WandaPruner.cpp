#include "pruners/wanda/WandaPruner.h"

#include "framework/prune/BlockwiseDriver.h"
#include "framework/prune/MaskOps.h"
#include "framework/prune/RowSelection.h"
#include "framework/prune/Selection.h"

namespace prunelab::pruners {

namespace {
class WandaObserver : public prune::LayerObserver {
 public:
  void observe(const torch::Tensor& input) override { stats.add(input); }
  prune::WandaStats stats;
};
}  // namespace

prune::PruneResult WandaPruner::prune(prune::PruneContext& ctx) {
  prune::BlockwiseCallbacks callbacks;
  callbacks.makeObserver = [](const model::LinearRef&) { return std::make_unique<WandaObserver>(); };
  callbacks.pruneLayer = [this](const model::LinearRef& ref, prune::LayerObserver* observer) {
    const auto& stats = static_cast<WandaObserver*>(observer)->stats;
    PL_CHECK(stats.scalerRow.defined(), "'{}' saw no calibration input during its block's pass", ref.name);
    auto scores = prune::wandaScores(ref.layer->weight.detach(), stats.scalerRow);
    torch::Tensor keep;
    double target = options_.sparsity;
    if (options_.selection == "per_row") keep = prune::perRowMask(scores, options_.sparsity);
    if (options_.selection == "per_matrix") keep = prune::perMatrixThresholdMask(scores, options_.sparsity);
    if (options_.selection == "variant") keep = prune::wandaVariantMask(scores, options_.sparsity);
    if (options_.selection == "nm") {
      keep = prune::nmMask(scores, options_.nm_n, options_.nm_m);
      target = static_cast<double>(options_.nm_n) / static_cast<double>(options_.nm_m);
    }
    return prune::applyMask(ref, keep, target);
  };
  return prune::pruneBlockwise(ctx, options_.blockwise, callbacks);
}

}  // namespace prunelab::pruners
