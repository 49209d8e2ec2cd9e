#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "experiments/verbs/Verb.h"
#include "framework/prune/Allocation.h"

namespace prunelab::app {

/// `prunelab allocate`: a layer-sparsity allocation from a table of groups, computed by the same
/// functions the pruners call (prune::allocateEcoflap / allocateOwl / allocateUniform).
struct AllocateRequest {
  std::filesystem::path groupsFile;
  double sparsity = -1;
  std::optional<double> maxSparsity;  ///< ecoflap: default s + 0.1 (capped at 1)
  std::string method = "ecoflap";     ///< ecoflap, owl or uniform
  double lambda = 0.08;               ///< owl: the sparsities span 2λ (reference default 0.08)
  bool numelWeightedMean = false;     ///< owl: centre on the numel-weighted mean (groups of different sizes)
  std::filesystem::path outFile;      ///< empty: <groups stem>.allocation.json beside the groups file
};

/// Reads the groups file: {"groups": [{"name", "numel", "score", "outlier_ratio", "modality"}]} or
/// the bare list. `numel` is required; `score` for ecoflap, `outlier_ratio` for owl. Errors name
/// the file and the JSON position.
std::vector<prune::AllocationGroup> readAllocationGroups(const std::filesystem::path& file, const std::string& method);

/// Runs the allocation (everything is validated first).
prune::Allocation allocateFromRequest(const AllocateRequest& request, const std::vector<prune::AllocationGroup>& groups);

/// The JSON written and printed with --json: the request, and per group numel, keep (ecoflap),
/// sparsity; the achieved overall sparsity.
nlohmann::ordered_json allocationJson(const AllocateRequest& request, const std::vector<prune::AllocationGroup>& groups,
                                      const prune::Allocation& allocation);

/// Adds the `allocate` subcommand.
Verb addAllocateVerb(CLI::App& app);

}  // namespace prunelab::app
