#include "pruners/structured_magnitude/StructuredMagnitudePruner.h"

#include <algorithm>
#include <cmath>

#include "framework/core/Error.h"
#include "framework/core/Suggest.h"

namespace prunelab::pruners {

namespace {

const char* kVersion = "structured_magnitude-1";
const char* kPrefix = "prune/structured_magnitude";
const std::vector<std::string> kStructures = {"heads+neurons", "heads", "neurons"};

}  // namespace

void StructuredMagnitudePruner::Options::validate() const {
  PL_CHECK(std::isfinite(sparsity) && sparsity >= 0 && sparsity < 1,
           "structured_magnitude: sparsity must lie in [0, 1), got {}", sparsity);
  PL_CHECK(std::find(kStructures.begin(), kStructures.end(), structures) != kStructures.end(),
           "structured_magnitude: structures '{}' is unknown{}; use {}", structures,
           didYouMean(structures, kStructures), quotedList(kStructures));
  PL_CHECK(!module.empty(), "structured_magnitude: module must be 'all' or a modality (vision, text, cross)");
  finetune.validate();
}

torch::Tensor StructuredMagnitudePruner::keepLargest(const torch::Tensor& scores, double sparsity) {
  const auto s = scores.detach().to(torch::kDouble).reshape({-1, scores.size(-1)});
  const std::int64_t n = s.size(1);
  const auto drop = static_cast<std::int64_t>(std::nearbyint(sparsity * static_cast<double>(n)));
  auto keep = torch::ones_like(s, torch::kFloat);
  if (drop > 0) {
    const auto order = std::get<1>(torch::sort(s, /*stable=*/true, /*dim=*/1, /*descending=*/false));
    keep.scatter_(1, order.narrow(1, 0, std::min(drop, n)), 0.0);
  }
  return keep.reshape(scores.sizes());
}

prune::PruneResult StructuredMagnitudePruner::prune(prune::PruneContext& ctx) {
  const auto& o = options_;
  o.validate();
  auto& structured = requireStructured(ctx.model, "structured_magnitude");
  const auto all = structured.gatedBlocks();
  std::vector<std::string> modalities;
  for (const auto& b : all)
    if (std::find(modalities.begin(), modalities.end(), b.layout.modality) == modalities.end())
      modalities.push_back(b.layout.modality);
  PL_CHECK(o.module == "all" || std::find(modalities.begin(), modalities.end(), o.module) != modalities.end(),
           "structured_magnitude: the model has no '{}' blocks{}; use all or one of {}", o.module,
           didYouMean(o.module, modalities), quotedList(modalities));

  const auto magnitudes = structured.structureMagnitudes();
  prune::StructureValues keep;
  for (std::size_t b = 0; b < all.size(); ++b) {
    const auto& l = all[b].layout;
    const bool chosen = o.module == "all" || l.modality == o.module;
    torch::Tensor heads, neurons;
    if (chosen && o.structures != "neurons" && l.heads > 0)
      heads = keepLargest(magnitudes.heads[b].reshape({l.attentionModules(), l.heads}), o.sparsity).reshape({-1});
    if (chosen && o.structures != "heads" && l.mlpDim > 0)
      neurons = keepLargest(magnitudes.neurons[b].reshape({1, l.mlpDim}), o.sparsity).reshape({-1});
    keep.heads.push_back(heads);
    keep.neurons.push_back(neurons);
  }

  prune::PruneResult result;
  if (o.finetune.steps > 0) {
    structured.setStructureGates(keep);
    for (auto& m : finetuneWithKd(ctx, o.finetune, {}, std::string(kPrefix) + "/finetune", kVersion))
      result.metrics.push_back(std::move(m));
    structured.setStructureGates({});
  }
  // Sparsity over every block's heads and neurons (an unpruned part counts as kept).
  prune::StructureValues full;
  for (std::size_t b = 0; b < all.size(); ++b) {
    const auto& l = all[b].layout;
    full.heads.push_back(keep.heads[b].defined() ? keep.heads[b] : torch::ones({l.headGates()}));
    full.neurons.push_back(keep.neurons[b].defined() ? keep.neurons[b] : torch::ones({l.mlpDim}));
  }
  for (auto& m : structureMetrics(all, full, kPrefix, kVersion)) result.metrics.push_back(std::move(m));
  result.layers = structuredLayerRecords(ctx.model, all, keep, o.sparsity);
  if (o.physical_removal) {
    structured.removeStructures(keep);
  } else {
    structured.setStructureGates(keep);
  }
  return result;
}

}  // namespace prunelab::pruners
