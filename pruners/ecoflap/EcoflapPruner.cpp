#include "pruners/ecoflap/EcoflapPruner.h"

#include <cmath>
#include <map>

#include "framework/core/Error.h"
#include "framework/prune/MaskOps.h"
#include "framework/prune/Targets.h"

namespace prunelab::pruners {

void EcoflapPruner::Options::validate() const {
  fine.validate();
  coarse.validate();
  blockwise.validate();
  prune::granularityFromName(granularity);
  prune::aggregateFromName(aggregate);
  PL_CHECK(fine.selection != "nm",
           "ecoflap allocates a sparsity per group, but selection=nm fixes every matrix at n/m: use selection=per_row "
           "or per_matrix (or adaptive with reconstruction=obs), or the layerwise pruner for N:M");
  if (max_sparsity != -1) {
    PL_CHECK(std::isfinite(max_sparsity) && max_sparsity < 1.0,
             "max_sparsity must be below 1, got {}: it caps each group's sparsity (-1: sparsity + 0.1)", max_sparsity);
    PL_CHECK(max_sparsity >= fine.sparsity,
             "max_sparsity {} is below the target sparsity {}: no group could reach the target; set "
             "pruner.max_sparsity >= {} (ECoFLaP's scripts use sparsity + 0.1), or -1 for that default",
             max_sparsity, fine.sparsity, fine.sparsity);
  } else {
    PL_CHECK(fine.sparsity + 0.1 < 1.0,
             "sparsity {} leaves no room for the default max_sparsity (sparsity + 0.1 must stay below 1): set "
             "pruner.max_sparsity in [{}, 1)",
             fine.sparsity, fine.sparsity);
  }
}

double EcoflapPruner::Options::maxSparsity() const { return max_sparsity == -1 ? fine.sparsity + 0.1 : max_sparsity; }

prune::PruneResult pruneAtAllocation(prune::PruneContext& ctx, const prune::FineStepOptions& fine,
                                     const prune::BlockwiseSettings& blockwise,
                                     const std::vector<model::LinearRef>& targets, const prune::Grouping& grouping,
                                     const prune::Allocation& allocation, const std::string& method) {
  const auto perMatrix = prune::matrixSparsities(grouping, allocation);
  std::map<std::string, double> sparsityOf;
  std::map<std::string, std::size_t> groupOf;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    sparsityOf[targets[i].name] = perMatrix[i];
    groupOf[targets[i].name] = grouping.groupOf[i];
  }
  prune::BlockwiseCallbacks callbacks;
  if (fine.needsSqNorms() || fine.needsHessian())
    callbacks.makeObserver = [&fine](const model::LinearRef&) {
      return std::make_unique<prune::InputStatsCollector>(fine);
    };
  callbacks.pruneLayer = [&](const model::LinearRef& ref, prune::LayerObserver* observer) {
    auto it = sparsityOf.find(ref.name);
    PL_CHECK(it != sparsityOf.end(), "internal error: '{}' was pruned but received no allocated sparsity", ref.name);
    prune::FineStepOptions own = fine;
    own.sparsity = it->second;
    prune::InputStats stats;
    if (observer) stats = static_cast<prune::InputStatsCollector*>(observer)->stats(ref.name);
    return prune::pruneLayer(ref, stats, own);
  };
  auto result = prune::pruneBlockwise(ctx, blockwise, callbacks);

  const std::string version = method + "-1";
  const auto& groups = grouping.groups;
  std::vector<double> zeros(groups.size(), 0.0), total(groups.size(), 0.0);
  for (const auto& l : result.layers) {
    auto it = groupOf.find(l.name);
    if (it == groupOf.end()) continue;
    zeros[it->second] += l.achievedSparsity * static_cast<double>(l.numel);
    total[it->second] += static_cast<double>(l.numel);
  }
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const std::string prefix = "prune/" + groups[g].name + "/" + method + "/";
    result.metrics.push_back({prefix + "allocated_sparsity", allocation.sparsity[g], 0, version});
    if (total[g] > 0) result.metrics.push_back({prefix + "achieved_sparsity", zeros[g] / total[g], 0, version});
  }
  result.metrics.push_back({"prune/targets/" + method + "/allocated_sparsity", allocation.achieved, 0, version});
  return result;
}

prune::PruneResult EcoflapPruner::prune(prune::PruneContext& ctx) {
  const auto& o = options_;
  auto targets = prune::selectTargets(ctx.model.linears(), o.blockwise.targets, o.blockwise.exclude);
  for (const auto& t : targets) prune::checkFiniteWeights(t);

  std::vector<double> scores;
  {
    auto stage = ctx.profiler.stage("coarse");
    const std::uint64_t seed = static_cast<std::uint64_t>(ctx.seed);
    if (o.coarse.order == "local") {
      // The local-score ablation reads the fine step's own statistics, so it calibrates on the
      // fine step's samples (nsamples, calib_batch_size), not the coarse ones.
      const auto batches = prune::calibrationBatches(
          ctx.data, {o.blockwise.calib_split, o.blockwise.nsamples, o.blockwise.calib_batch_size, seed});
      scores = prune::localScores(ctx.model, batches, targets, o.fine);
    } else {
      const auto batches = prune::calibrationBatches(
          ctx.data, {o.blockwise.calib_split, o.coarse.nsamples, o.coarse.batch_size, seed});
      if (o.coarse.order == "zeroth") {
        prune::ZerothOrderOptions z;
        z.eps = o.coarse.eps;
        z.fast = o.coarse.mode == "fast";
        z.pair = o.coarse.pair;
        z.group = o.coarse.group;
        z.threads = o.coarse.threads;
        z.seed = seed;
        scores = prune::zerothOrderScores(ctx.model, batches, targets, z);
      } else {
        // Only mean|g| is accumulated, as the reference does (one fp32 tensor per target).
        scores = prune::firstOrderScores(ctx.model, batches, targets, {/*meanAbs=*/true, /*meanSq=*/false}).gradient;
      }
    }
  }
  bool anyPositive = false;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    PL_CHECK(std::isfinite(scores[i]),
             "ecoflap: the coarse score of '{}' is {}: check its weights and the calibration loss (zeroth order: "
             "lower pruner.coarse.eps)",
             targets[i].name, scores[i]);
    anyPositive = anyPositive || scores[i] > 0;
  }
  PL_CHECK(anyPositive, "ecoflap: every coarse score is zero, so the loss did not react to any target ({} order): {}",
           o.coarse.order,
           o.coarse.order == "zeroth"
               ? fmt::format("raise pruner.coarse.eps (now {}) above the weights' rounding, and check that the targets "
                             "feed the calibration loss",
                             o.coarse.eps)
               : std::string(o.coarse.order == "local" ? "check the targets' weights and calibration inputs"
                                                       : "check that the targets feed the calibration loss"));

  prune::Grouping grouping;
  prune::Allocation allocation;
  {
    auto stage = ctx.profiler.stage("allocate");
    grouping = prune::groupMatrices(prune::matrixEntries(targets, scores), prune::granularityFromName(o.granularity),
                                    prune::aggregateFromName(o.aggregate));
    allocation = prune::allocateEcoflap(grouping.groups, o.fine.sparsity, o.maxSparsity());
  }
  auto result = pruneAtAllocation(ctx, o.fine, o.blockwise, targets, grouping, allocation, "ecoflap");
  for (const auto& g : grouping.groups)
    result.metrics.push_back({"prune/" + g.name + "/ecoflap/coarse_score", g.score, 0, "ecoflap-1"});
  return result;
}

}  // namespace prunelab::pruners
