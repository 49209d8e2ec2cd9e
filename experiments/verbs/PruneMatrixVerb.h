#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "experiments/verbs/Verb.h"
#include "framework/prune/FineStep.h"

namespace prunelab::app {

/// `prunelab prune-matrix`: one weight matrix and its calibration inputs from safetensors files,
/// pruned by the same fine step the pruners run inside a model (prune::InputStatsCollector, the
/// observer the blockwise driver feeds, and prune::pruneMatrix), so a layer can be checked against
/// another implementation outside any model.
struct PruneMatrixRequest {
  std::filesystem::path weightFile;
  std::string weightName;                        ///< empty: the only tensor, else the one called "weight"
  std::vector<std::filesystem::path> inputFiles;  ///< inputs and/or precomputed statistics
  std::filesystem::path outFile;
  std::vector<std::string> overrides;            ///< fine-step options as key=value (score=wanda, nm.n=2, ...)
};

/// What prune-matrix did, for the one-line and the JSON summary.
struct PruneMatrixSummary {
  std::string weightName;
  std::vector<std::int64_t> shape;
  std::string dtype;
  prune::FineStepOptions options;
  double targetSparsity = 0;
  double achievedSparsity = 0;
  double rowSparsityMin = 0, rowSparsityMax = 0;
  std::int64_t inputBatches = 0;                ///< input tensors accumulated (0: statistics given)
  std::int64_t inputRows = 0;                   ///< tokens over all input tensors
  std::optional<double> reconstructionError;    ///< ||WX − ŴX||_F / ||WX||_F over all inputs, when given
  std::vector<std::string> statistics;          ///< what the fine step used: sq_norms, hessian
  double dampUsed = 0;                          ///< obs only
  std::string maskSha256;

  std::string line() const;
  nlohmann::ordered_json toJson() const;
};

/// Reads the files, prunes, writes `mask` (uint8, 1 = keep), `weight` (the new weight, in the
/// input dtype) and the statistics used to `outFile`, and returns the summary. In input files,
/// `sq_norms` [in] and `hessian` [in, in] are precomputed statistics, `weight` is skipped (so a
/// layer dump from a run, `pruner.dump_inputs`, serves as both --weight and --inputs), and every
/// other tensor is one batch of inputs, (tokens × in) or (batch × seq × in), accumulated in
/// natural name order (inputs.2 before inputs.10), as the driver accumulates its batches.
PruneMatrixSummary pruneMatrixFiles(const PruneMatrixRequest& request);

/// The fine-step options from key=value overrides (unknown keys: an error with "did you mean").
prune::FineStepOptions fineStepFromOverrides(const std::vector<std::string>& overrides);

/// Adds the `prune-matrix` subcommand.
Verb addPruneMatrixVerb(CLI::App& app);

}  // namespace prunelab::app
