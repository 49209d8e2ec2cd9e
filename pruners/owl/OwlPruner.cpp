#include "pruners/owl/OwlPruner.h"

#include <cmath>
#include <map>

#include "framework/core/Error.h"
#include "framework/prune/CoarseScores.h"
#include "framework/prune/MaskOps.h"
#include "framework/prune/RowSelection.h"
#include "framework/prune/Targets.h"
#include "pruners/ecoflap/EcoflapPruner.h"

namespace prunelab::pruners {

void OwlPruner::Options::validate() const {
  fine.validate();
  blockwise.validate();
  prune::granularityFromName(granularity);
  PL_CHECK(std::isfinite(lambda) && lambda >= 0, "lambda must be >= 0, got {} (reference: 0.08)", lambda);
  PL_CHECK(std::isfinite(hyper_m) && hyper_m > 0, "hyper_m must be positive, got {} (reference: 5)", hyper_m);
  PL_CHECK(fine.selection != "nm",
           "owl allocates a sparsity per group, but selection=nm fixes every matrix at n/m: use selection=per_row or "
           "per_matrix (or adaptive with reconstruction=obs)");
}

prune::PruneResult OwlPruner::prune(prune::PruneContext& ctx) {
  const auto& o = options_;
  auto targets = prune::selectTargets(ctx.model.linears(), o.blockwise.targets, o.blockwise.exclude);
  for (const auto& t : targets) prune::checkFiniteWeights(t);
  auto grouping = prune::groupMatrices(prune::matrixEntries(targets, std::vector<double>(targets.size(), 0.0)),
                                       prune::granularityFromName(o.granularity));
  {
    // Pass 1 on the dense model: the blockwise driver with a "prune" step that only measures, so
    // its replay keeps every block dense. A group's metrics are held only until its last matrix
    // has been seen (a group never spans blocks at block granularity).
    auto stage = ctx.profiler.stage("outliers");
    const auto batches =
        prune::calibrationBatches(ctx.data, {o.blockwise.calib_split, o.blockwise.nsamples,
                                             o.blockwise.calib_batch_size, static_cast<std::uint64_t>(ctx.seed)});
    std::map<std::string, std::size_t> indexOf;
    std::vector<int> remaining(grouping.groups.size(), 0);
    for (std::size_t i = 0; i < targets.size(); ++i) {
      indexOf[targets[i].name] = i;
      ++remaining[grouping.groupOf[i]];
    }
    std::vector<std::vector<torch::Tensor>> pending(grouping.groups.size());
    prune::FineStepOptions wanda;  // score=wanda: the collector gathers the input norms
    prune::BlockwiseCallbacks callbacks;
    callbacks.makeObserver = [&wanda](const model::LinearRef&) {
      return std::make_unique<prune::InputStatsCollector>(wanda);
    };
    callbacks.pruneLayer = [&](const model::LinearRef& ref, prune::LayerObserver* observer) {
      const auto stats = static_cast<prune::InputStatsCollector*>(observer)->stats(ref.name);
      const std::size_t g = grouping.groupOf[indexOf.at(ref.name)];
      pending[g].push_back(
          prune::wandaScores(ref.layer->weight.detach(), stats.sqNorms).to(torch::kCPU).contiguous().reshape({-1}));
      if (--remaining[g] == 0) {
        std::vector<prune::ScoreSpan> spans;
        for (const auto& s : pending[g]) spans.push_back({s.data_ptr<float>(), s.numel()});
        grouping.groups[g].outlierRatio = prune::outlierRatio(spans, o.hyper_m);
        pending[g].clear();
      }
      return prune::describeLayer(ref, 0.0);
    };
    prune::runBlockwise(ctx.model, batches, targets, callbacks);
  }
  prune::Allocation allocation;
  {
    auto stage = ctx.profiler.stage("allocate");
    allocation = prune::allocateOwl(grouping.groups, o.fine.sparsity, o.lambda, o.numel_weighted);
  }
  auto result = pruneAtAllocation(ctx, o.fine, o.blockwise, targets, grouping, allocation, "owl");
  for (const auto& g : grouping.groups)
    result.metrics.push_back({"prune/" + g.name + "/owl/outlier_ratio", g.outlierRatio, 0, "owl-1"});
  return result;
}

}  // namespace prunelab::pruners
