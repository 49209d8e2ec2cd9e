#include "pruners/global/GlobalPruner.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "framework/core/Error.h"
#include "framework/core/Progress.h"
#include "framework/core/Suggest.h"
#include "framework/profile/MemoryTracker.h"
#include "framework/prune/BlockwiseDriver.h"
#include "framework/prune/CoarseScores.h"
#include "framework/prune/MaskOps.h"
#include "framework/prune/Selection.h"
#include "framework/prune/Targets.h"

namespace prunelab::pruners {

namespace {

const std::vector<std::string> kScores = {"gradient", "fisher", "magnitude"};
const std::vector<std::string> kScopes = {"all", "modality"};
const char* kVersion = "global-1";

// The targets that share one threshold, in target order.
struct Ranking {
  std::string name;  ///< "targets" for scope all, else the modality
  std::vector<std::size_t> members;
};

std::vector<Ranking> rankingsOf(const std::vector<model::LinearRef>& targets, const std::string& scope) {
  std::vector<Ranking> out;
  if (scope == "all") {
    out.push_back({"targets", {}});
    for (std::size_t i = 0; i < targets.size(); ++i) out[0].members.push_back(i);
    return out;
  }
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const auto& modality = targets[i].modality;
    PL_CHECK(!modality.empty(), "global: '{}' has no modality, but scope=modality ranks per modality: use scope=all",
             targets[i].name);
    auto [it, inserted] = index.emplace(modality, out.size());
    if (inserted) out.push_back({modality, {}});
    out[it->second].members.push_back(i);
  }
  return out;
}

// Per-weight scores of every target on the current model, |W|·mean|g| or W²·mean g². The gradient
// accumulator becomes the score in place, so each matrix has one weight-sized fp32 tensor.
std::vector<torch::Tensor> calibratedScores(model::Model& model, const std::vector<model::Batch>& batches,
                                            const std::vector<model::LinearRef>& targets, const std::string& score) {
  prune::FirstOrderOptions fields;
  fields.meanAbs = score == "gradient";
  fields.meanSq = score == "fisher";
  auto grads = prune::firstOrderGradients(model, batches, targets, fields);
  profile::MemoryScope tag(profile::MemoryCategory::Scores);
  torch::NoGradGuard noGrad;
  std::vector<torch::Tensor> out(targets.size());
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const auto w = targets[i].layer->weight.detach().to(torch::kFloat);
    torch::Tensor s = fields.meanAbs ? std::move(grads.meanAbs[i]) : std::move(grads.meanSq[i]);
    if (fields.meanAbs) {
      s.mul_(w.abs());
    } else {
      s.mul_(w.square());
    }
    // Already pruned: strictly below every live weight (see the class comment).
    out[i] = s.masked_fill_(w == 0, -1.0f).reshape({-1});
  }
  return out;
}

}  // namespace

void GlobalPruner::Options::validate() const {
  PL_CHECK(std::isfinite(sparsity) && sparsity >= 0.0 && sparsity < 1.0,
           "global: sparsity must be in [0, 1), got {}: it is the fraction of each ranking's weights removed",
           sparsity);
  PL_CHECK(iterations >= 1, "global: iterations must be >= 1, got {} (reference: 3; 1 is one-shot)", iterations);
  checkOneOf("global: score", score, kScores);
  checkOneOf("global: scope", scope, kScopes);
  PL_CHECK(!targets.empty(), "global: targets must list at least one glob, e.g. ['*.blocks.*']");
  if (score != "magnitude") {
    PL_CHECK(nsamples > 0, "global: nsamples must be positive, got {} (reference: 128)", nsamples);
    PL_CHECK(batch_size > 0, "global: batch_size must be positive, got {} (reference: 1)", batch_size);
  }
}

double GlobalPruner::scheduledSparsity(double sparsity, std::int64_t iteration, std::int64_t iterations) {
  return std::pow(sparsity, static_cast<double>(iterations) / static_cast<double>(iteration));
}

prune::PruneResult GlobalPruner::prune(prune::PruneContext& ctx) {
  const auto& o = options_;
  auto targets = prune::selectTargets(ctx.model.linears(), o.targets, o.exclude);
  for (const auto& t : targets) prune::checkFiniteWeights(t);
  prune::PruneResult result;
  if (o.sparsity == 0.0) {
    // Every round would remove nothing: skip the backward passes.
    for (const auto& t : targets) result.layers.push_back(prune::describeLayer(t, 0.0));
    return result;
  }
  const auto rankings = rankingsOf(targets, o.scope);
  const bool calibrated = o.score != "magnitude";
  std::vector<model::Batch> batches;
  if (calibrated) {
    auto stage = ctx.profiler.stage("calibrate");
    batches = prune::calibrationBatches(
        ctx.data, {o.calib_split, o.nsamples, o.batch_size, static_cast<std::uint64_t>(ctx.seed)});
  }

  std::vector<store::LayerRecord> records(targets.size());
  Progress progress(fmt::format("global {} pruning", o.score), o.iterations, "iteration");
  for (std::int64_t it = 1; it <= o.iterations; ++it) {
    const double p = scheduledSparsity(o.sparsity, it, o.iterations);
    std::vector<torch::Tensor> scores;
    if (calibrated) {
      auto stage = ctx.profiler.stage("scores");
      scores = calibratedScores(ctx.model, batches, targets, o.score);
    }
    auto stage = ctx.profiler.stage("select");
    std::map<std::string, std::pair<std::int64_t, std::int64_t>> prunedOfModality;  // pruned, total
    for (const auto& r : rankings) {
      std::vector<prune::ScoreSource> sources;
      for (std::size_t i : r.members) {
        const auto& t = targets[i];
        prune::ScoreSource source{t.name, t.layer->weight.numel(), {}};
        if (calibrated) {
          torch::Tensor s = scores[i];
          source.chunk = [s](std::int64_t b, std::int64_t e) { return s.slice(0, b, e).to(torch::kCPU); };
        } else {
          torch::Tensor w = t.layer->weight.detach();
          source.chunk = [w](std::int64_t b, std::int64_t e) {
            profile::MemoryScope tag(profile::MemoryCategory::Scores);
            auto c = w.reshape({-1}).slice(0, b, e).abs().to(torch::kCPU, torch::kFloat);
            return c.masked_fill_(c == 0, -1.0f);
          };
        }
        sources.push_back(std::move(source));
      }
      const auto threshold = prune::findGlobalThreshold(sources, p);
      std::int64_t ties = threshold.tiesToPrune;
      std::int64_t pruned = 0, total = 0;
      for (std::size_t k = 0; k < r.members.size(); ++k) {
        const std::size_t i = r.members[k];
        const auto& w = targets[i].layer->weight;
        const auto mask = prune::globalThresholdMask(sources[k], threshold, ties).reshape(w.sizes()).to(w.device());
        records[i] = prune::applyMask(targets[i], mask, o.sparsity);
        // The scores of a matrix go once its mask is applied (the source holds them too).
        sources[k].chunk = nullptr;
        if (calibrated) scores[i] = torch::Tensor();
        const auto n = w.numel();
        const auto zeros =
            static_cast<std::int64_t>(std::llround(records[i].achievedSparsity * static_cast<double>(n)));
        pruned += zeros;
        total += n;
        auto& m = prunedOfModality[targets[i].modality];
        m.first += zeros;
        m.second += n;
      }
      const std::string prefix = "prune/" + r.name + "/global/";
      result.metrics.push_back({prefix + "scheduled_sparsity", p, it, kVersion});
      result.metrics.push_back(
          {prefix + "achieved_sparsity", static_cast<double>(pruned) / static_cast<double>(total), it, kVersion});
      result.metrics.push_back({prefix + "threshold", static_cast<double>(threshold.value), it, kVersion});
    }
    if (o.scope == "all") {
      for (const auto& [modality, counts] : prunedOfModality)
        result.metrics.push_back({"prune/" + modality + "/global/achieved_sparsity",
                                  static_cast<double>(counts.first) / static_cast<double>(counts.second), it,
                                  kVersion});
    }
    progress.advance(1, fmt::format("sparsity {:.4f}", p));
  }
  result.layers = std::move(records);
  return result;
}

}  // namespace prunelab::pruners
