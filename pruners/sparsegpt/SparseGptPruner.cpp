#include "pruners/sparsegpt/SparseGptPruner.h"

#include "framework/prune/BlockwiseDriver.h"
#include "framework/prune/MaskOps.h"

namespace prunelab::pruners {

namespace {
class HessianObserver : public prune::LayerObserver {
 public:
  void observe(const torch::Tensor& input) override { hessian.add(input); }
  prune::HessianAccumulator hessian;
};
}  // namespace

prune::PruneResult SparseGptPruner::prune(prune::PruneContext& ctx) {
  prune::BlockwiseCallbacks callbacks;
  callbacks.makeObserver = [](const model::LinearRef&) { return std::make_unique<HessianObserver>(); };
  callbacks.pruneLayer = [this](const model::LinearRef& ref, prune::LayerObserver* observer) {
    const auto& h = static_cast<HessianObserver*>(observer)->hessian;
    PL_CHECK(h.h.defined(), "'{}' saw no calibration input during its block's pass", ref.name);
    prune::SparseGptResult r;
    try {
      r = prune::sparseGptPrune(ref.layer->weight.detach(), h.h, options_.obs);
    } catch (const Error& e) {
      throw Error(fmt::format("{}: {}", ref.name, e.what()), e.file(), e.line());
    }
    {
      torch::NoGradGuard noGrad;
      ref.layer->weight.copy_(r.weight);
    }
    const double target = options_.obs.prunen > 0
                              ? static_cast<double>(options_.obs.prunen) / static_cast<double>(options_.obs.prunem)
                              : options_.obs.sparsity;
    return prune::applyMask(ref, r.keepMask, target);
  };
  return prune::pruneBlockwise(ctx, options_.blockwise, callbacks);
}

}  // namespace prunelab::pruners
