#include "framework/prune/Allocation.h"

#include <algorithm>
#include <cctype>
#include <cfloat>
#include <cmath>
#include <numeric>
#include <set>
#include <unordered_map>

#include "framework/core/Error.h"
#include "framework/core/Suggest.h"

namespace prunelab::prune {

namespace {

std::string label(const AllocationGroup& g, std::size_t i) { return g.name.empty() ? fmt::format("#{}", i) : g.name; }

void checkSparsity(double s) {
  PL_CHECK(s >= 0.0 && s < 1.0, "sparsity must be in [0, 1), got {}: it is the fraction of weights removed", s);
}

void checkGroups(const std::vector<AllocationGroup>& groups) {
  PL_CHECK(!groups.empty(), "allocation over no groups: the pruning targets matched no weights");
  std::set<std::string> seen;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    const auto& g = groups[i];
    PL_CHECK(g.numel > 0, "group '{}' has numel {}: every group needs at least one weight", label(g, i), g.numel);
    if (!g.name.empty()) {
      PL_CHECK(seen.insert(g.name).second,
               "group '{}' is listed twice: give each group once (merge duplicates, or name them apart)", g.name);
    }
  }
}

std::int64_t totalNumel(const std::vector<AllocationGroup>& groups) {
  std::int64_t n = 0;
  for (const auto& g : groups) n += g.numel;
  return n;
}

// x comes from a product or ratio of a few doubles, so it may sit a few ulps off the integer it
// equals in exact arithmetic; snap those before rounding, or ⌈100·(1−0.7)⌉ would be 31. The
// tolerance is relative, so a tiny positive share still rounds up to one weight.
bool nearInteger(double x, double& r) {
  r = std::round(x);
  return std::fabs(x - r) <= 16.0 * DBL_EPSILON * std::fabs(x);
}

std::int64_t floorSnapped(double x) {
  double r;
  return static_cast<std::int64_t>(nearInteger(x, r) ? r : std::floor(x));
}

std::int64_t ceilSnapped(double x) {
  double r;
  return static_cast<std::int64_t>(nearInteger(x, r) ? r : std::ceil(x));
}

Allocation finish(const std::vector<AllocationGroup>& groups, std::vector<double> sparsity) {
  Allocation a;
  a.sparsity = std::move(sparsity);
  a.achieved = weightedSparsity(groups, a.sparsity);
  return a;
}

}  // namespace

double weightedSparsity(const std::vector<AllocationGroup>& groups, const std::vector<double>& sparsities) {
  PL_CHECK(groups.size() == sparsities.size(), "{} sparsities for {} groups: give one sparsity per group",
           sparsities.size(), groups.size());
  double kept = 0, total = 0;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    const double n = static_cast<double>(groups[i].numel);
    kept += sparsities[i] * n;
    total += n;
  }
  return total > 0 ? kept / total : 0.0;
}

Allocation allocateUniform(const std::vector<AllocationGroup>& groups, double sparsity) {
  checkSparsity(sparsity);
  checkGroups(groups);
  return finish(groups, std::vector<double>(groups.size(), sparsity));
}

Allocation allocatePerModule(const std::vector<AllocationGroup>& groups,
                             const std::map<std::string, double>& ratioPerModality) {
  checkGroups(groups);
  for (const auto& [modality, ratio] : ratioPerModality) {
    PL_CHECK(ratio >= 0.0 && ratio < 1.0, "per-module ratio for '{}' must be in [0, 1), got {}", modality, ratio);
  }
  std::vector<std::string> given, missing;
  for (const auto& kv : ratioPerModality) given.push_back(kv.first);
  std::vector<double> sparsity;
  for (const auto& g : groups) {
    auto it = ratioPerModality.find(g.modality);
    if (it == ratioPerModality.end()) {
      if (std::find(missing.begin(), missing.end(), g.modality) == missing.end()) missing.push_back(g.modality);
      continue;
    }
    sparsity.push_back(it->second);
  }
  if (!missing.empty()) {
    std::string hints;
    for (const auto& m : missing) hints += didYouMean(m, given);
    PL_THROW("no per-module ratio for modality {}{}: add a ratio for each (ratios given: {})", quotedList(missing),
             hints, given.empty() ? std::string("none") : quotedList(given));
  }
  return finish(groups, std::move(sparsity));
}

Allocation allocateEcoflap(const std::vector<AllocationGroup>& groups, double sparsity,
                           std::optional<double> maxSparsity) {
  checkSparsity(sparsity);
  checkGroups(groups);
  const double sMax = maxSparsity.value_or(std::min(sparsity + 0.1, 1.0));
  PL_CHECK(std::isfinite(sMax) && sMax <= 1.0,
           "max sparsity must be at most 1, got {}: it caps each group's sparsity (default s + 0.1)", sMax);
  PL_CHECK(sMax >= sparsity,
           "max sparsity {} is below the target sparsity {}: no group may then be as sparse as the target; use a "
           "max sparsity >= {} (ECoFLaP's scripts use s + 0.1)",
           sMax, sparsity, sparsity);
  double scoreSum = 0;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    const double sc = groups[i].score;
    PL_CHECK(std::isfinite(sc), "score of group '{}' is {}: scores must be finite; check the coarse-step loss",
             label(groups[i], i), sc);
    PL_CHECK(sc >= 0, "score of group '{}' is {}: ECoFLaP scores are magnitudes (|ΔL|/2ε or |W|·|g|), never negative",
             label(groups[i], i), sc);
    scoreSum += sc;
  }
  PL_CHECK(scoreSum > 0,
           "all ECoFLaP group scores are zero: the coarse step measured no loss change; check that the calibration "
           "loss depends on the targets and that eps is not too small for the weight dtype");

  const std::size_t G = groups.size();
  const std::int64_t N = totalNumel(groups);
  const std::int64_t budget = floorSnapped(static_cast<double>(N) * (1.0 - sparsity));
  std::vector<std::int64_t> minKeep(G), keep(G);
  std::vector<double> active(G);  // score still competing for budget; 0 once the group is full
  for (std::size_t i = 0; i < G; ++i) {
    const double n = static_cast<double>(groups[i].numel);
    minKeep[i] = std::clamp<std::int64_t>(ceilSnapped(n * (1.0 - sMax)), 0, groups[i].numel);
    keep[i] = minKeep[i];
    active[i] = keep[i] >= groups[i].numel ? 0.0 : groups[i].score;
  }
  auto kept = [&] { return std::accumulate(keep.begin(), keep.end(), std::int64_t{0}); };

  int iterations = 0;
  for (std::int64_t total = kept(); total < budget; total = kept()) {
    ++iterations;
    const std::int64_t rest = budget - total;
    const double activeSum = std::accumulate(active.begin(), active.end(), 0.0);
    std::vector<std::int64_t> add(G, 0);
    std::int64_t added = 0;
    if (activeSum > 0) {
      for (std::size_t i = 0; i < G; ++i) {
        if (active[i] > 0) add[i] = ceilSnapped(active[i] / activeSum * static_cast<double>(rest));
        added += add[i];
      }
    }
    if (added == 0) {
      // Every scored group is full (or the shares underflowed): the spec's fill branch, in group order.
      std::int64_t need = rest;
      for (std::size_t i = 0; i < G && need > 0; ++i) {
        const std::int64_t take = std::min(need, groups[i].numel - keep[i]);
        keep[i] += take;
        need -= take;
      }
      PL_CHECK(need == 0, "internal error: ECoFLaP could not place {} weights although the budget fits", need);
      break;
    }
    for (std::size_t i = 0; i < G; ++i) {
      keep[i] += add[i];
      if (keep[i] >= groups[i].numel) {
        keep[i] = groups[i].numel;
        active[i] = 0;
      }
    }
    // Each share was rounded up, so the pass can overshoot by up to one weight per group. The
    // reference's take-back branch adds instead of subtracting (spec §1.4); remove it here.
    std::int64_t excess = kept() - budget;
    if (excess > 0) {
      std::vector<std::size_t> order(G);
      std::iota(order.begin(), order.end(), std::size_t{0});
      std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return keep[a] > keep[b]; });
      for (std::size_t i : order) {
        if (excess == 0) break;
        const std::int64_t take = std::min(excess, keep[i] - minKeep[i]);
        keep[i] -= take;
        excess -= take;
      }
      // Unreachable: before this pass Σkeep < budget with every keep >= its minimum, so the
      // weights added above the minima exceed the overshoot.
      PL_CHECK(excess == 0, "internal error: ECoFLaP overshoot of {} weights could not be taken back", excess);
    }
  }

  std::vector<double> sp(G);
  for (std::size_t i = 0; i < G; ++i) {
    sp[i] = std::clamp(1.0 - static_cast<double>(keep[i]) / static_cast<double>(groups[i].numel), 0.0, 1.0);
  }
  Allocation a = finish(groups, std::move(sp));
  a.iterations = iterations;
  a.keep = std::move(keep);
  return a;
}

Allocation allocateOwl(const std::vector<AllocationGroup>& groups, double sparsity, double lambda,
                       bool numelWeightedMean) {
  checkSparsity(sparsity);
  checkGroups(groups);
  PL_CHECK(std::isfinite(lambda) && lambda >= 0,
           "OWL lambda must be finite and >= 0, got {}: it sets the spread of sparsities (2λ); the paper uses 0.08",
           lambda);
  double lo = INFINITY, hi = -INFINITY;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    const double d = groups[i].outlierRatio;
    PL_CHECK(std::isfinite(d) && d >= 0,
             "outlier ratio of group '{}' is {}: it must be a finite fraction >= 0; check the calibration "
             "statistics of this block",
             label(groups[i], i), d);
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  const std::size_t G = groups.size();
  std::vector<double> density(G, 0.0);
  if (hi > lo) {
    for (std::size_t i = 0; i < G; ++i) density[i] = (groups[i].outlierRatio - lo) / (hi - lo) * (2.0 * lambda);
  }
  // weightedSparsity is the numel-weighted mean of any per-group value, here of the spread term.
  const double centre = numelWeightedMean
                            ? weightedSparsity(groups, density)
                            : std::accumulate(density.begin(), density.end(), 0.0) / static_cast<double>(G);
  std::vector<double> sp(G);
  for (std::size_t i = 0; i < G; ++i) {
    const double r = density[i] - centre + (1.0 - sparsity);
    double s = 1.0 - r;
    if (s <= 0) s = 0.01;  // the reference's floor for groups pushed below zero sparsity
    PL_CHECK(s < 1.0,
             "OWL gives group '{}' sparsity {:.4f} (>= 1) at target {} with lambda {}: lower lambda (below (1 - s)/2 "
             "= {} is always safe)",
             label(groups[i], i), s, sparsity, lambda, (1.0 - sparsity) / 2.0);
    sp[i] = s;
  }
  return finish(groups, std::move(sp));
}

double outlierRatio(const std::vector<ScoreSpan>& parts, double M) {
  PL_CHECK(std::isfinite(M) && M > 0,
           "OWL outlier threshold M must be finite and > 0, got {}: a score is an outlier above M·mean (paper: 5)", M);
  std::int64_t n = 0;
  double sum = 0;
  for (const auto& p : parts) {
    PL_CHECK(p.size >= 0 && (p.size == 0 || p.data != nullptr), "score span of size {} has no data", p.size);
    for (std::int64_t i = 0; i < p.size; ++i) {
      PL_CHECK(std::isfinite(p.data[i]),
               "score {} at index {} is not finite: check the weights and activation statistics of this block",
               p.data[i], n + i);
      sum += p.data[i];
    }
    n += p.size;
  }
  PL_CHECK(n > 0, "outlier ratio of no scores: the block has no target weights");
  const double threshold = sum / static_cast<double>(n) * M;
  std::int64_t count = 0;
  for (const auto& p : parts) {
    for (std::int64_t i = 0; i < p.size; ++i) count += static_cast<double>(p.data[i]) > threshold ? 1 : 0;
  }
  return static_cast<double>(count) / static_cast<double>(n);
}

double outlierRatio(const std::vector<float>& scores, double M) {
  return outlierRatio(std::vector<ScoreSpan>{{scores.data(), static_cast<std::int64_t>(scores.size())}}, M);
}

std::string groupKey(const std::string& matrixName, const std::string& modality, Granularity granularity) {
  switch (granularity) {
    case Granularity::Layer:
      return matrixName;
    case Granularity::Modality:
      PL_CHECK(!modality.empty(), "matrix '{}' has no modality: modality granularity groups by it", matrixName);
      return modality;
    case Granularity::Block: {
      std::size_t begin = 0;
      while (begin <= matrixName.size()) {
        std::size_t end = matrixName.find('.', begin);
        if (end == std::string::npos) end = matrixName.size();
        const bool digits = end > begin && std::all_of(matrixName.begin() + begin, matrixName.begin() + end,
                                                       [](unsigned char c) { return std::isdigit(c) != 0; });
        if (digits) return matrixName.substr(0, end);
        begin = end + 1;
      }
      PL_THROW(
          "cannot find a block index in '{}': block granularity needs names like 'vision.blocks.3.attn.qkv'; use "
          "layer granularity for matrices outside blocks",
          matrixName);
    }
  }
  PL_THROW("internal error: unknown granularity {}", static_cast<int>(granularity));
}

Grouping groupMatrices(const std::vector<AllocationGroup>& matrices, Granularity granularity,
                       ScoreAggregate aggregate) {
  checkGroups(matrices);
  Grouping out;
  std::unordered_map<std::string, std::size_t> index;
  std::vector<double> ratioMass;
  for (std::size_t i = 0; i < matrices.size(); ++i) {
    const auto& m = matrices[i];
    const std::string key = groupKey(m.name, m.modality, granularity);
    auto [it, inserted] = index.emplace(key, out.groups.size());
    if (inserted) {
      out.groups.push_back({key, m.modality, 0, 0.0, 0.0});
      ratioMass.push_back(0.0);
    }
    auto& g = out.groups[it->second];
    PL_CHECK(g.modality == m.modality,
             "matrices of group '{}' have modalities '{}' and '{}': a group must lie in one modality; use layer "
             "granularity or fix the model's modality tags",
             key, g.modality, m.modality);
    g.numel += m.numel;
    g.score += m.score;
    ratioMass[it->second] += m.outlierRatio * static_cast<double>(m.numel);
    out.groupOf.push_back(it->second);
  }
  for (std::size_t j = 0; j < out.groups.size(); ++j) {
    auto& g = out.groups[j];
    if (aggregate == ScoreAggregate::Avg) g.score /= static_cast<double>(g.numel);
    g.outlierRatio = ratioMass[j] / static_cast<double>(g.numel);
  }
  return out;
}

std::vector<double> matrixSparsities(const Grouping& grouping, const Allocation& allocation) {
  PL_CHECK(allocation.sparsity.size() == grouping.groups.size(),
           "allocation has {} sparsities for {} groups: allocate over grouping.groups", allocation.sparsity.size(),
           grouping.groups.size());
  std::vector<double> out;
  out.reserve(grouping.groupOf.size());
  for (std::size_t g : grouping.groupOf) out.push_back(allocation.sparsity[g]);
  return out;
}

}  // namespace prunelab::prune
