#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "framework/data/Dataset.h"
#include "framework/model/Model.h"
#include "framework/prune/Pruner.h"
#include "framework/store/RunStore.h"

namespace prunelab::prune {

/// Sees every input of one target Linear during the dense calibration pass of its block and
/// accumulates whatever statistic a pruner needs (Wanda's input norms, SparseGPT's Hessian).
class LayerObserver {
 public:
  virtual ~LayerObserver() = default;
  /// Called with the Linear's input ([..., in]) for every calibration batch.
  virtual void observe(const torch::Tensor& input) = 0;
};

/// The calibration set: `numSamples` examples of `split`, drawn without replacement by `seed`,
/// run in batches of `batchSize`. Statistics accumulate over batches; nothing per-sample is
/// kept beyond the current block's inputs.
struct CalibrationOptions {
  std::string split = "train";
  std::int64_t numSamples = 128;
  std::int64_t batchSize = 8;
  std::uint64_t seed = 0;
};

/// The pruner's part of the blockwise loop.
struct BlockwiseCallbacks {
  /// Makes the observer of one target (nullptr: this pruner needs no statistics for it).
  std::function<std::unique_ptr<LayerObserver>(const model::LinearRef&)> makeObserver;
  /// Prunes one target from its observer's statistics and returns its record.
  std::function<store::LayerRecord(const model::LinearRef&, LayerObserver*)> pruneLayer;
};

/// The calibration and target settings every blockwise pruner shares; a pruner's Options calls
/// `visitFields(v)` inside its own `visit`, so the keys sit beside its other options
/// (pruner.nsamples, pruner.targets, ...).
struct BlockwiseSettings {
  std::vector<std::string> targets = {"*.blocks.*"};
  std::vector<std::string> exclude = {};
  std::string calib_split = "train";
  std::int64_t nsamples = 128;
  std::int64_t calib_batch_size = 8;
  std::vector<std::string> dump_inputs = {};

  template <class V>
  void visitFields(V& v) {
    v(targets, "targets", "globs over canonical linear names to prune");
    v(exclude, "exclude", "globs of linears to keep even if a target pattern matches");
    v(calib_split, "calib_split", "data split the calibration samples come from");
    v(nsamples, "nsamples", "calibration samples");
    v(calib_batch_size, "calib_batch_size", "calibration samples per forward pass");
    v(dump_inputs, "dump_inputs",
      "globs of targets whose dense weight and calibration inputs (as the driver saw them) are written to "
      "<run dir>/layer_inputs/<name>.safetensors, for `prunelab prune-matrix`");
  }
  /// Throws on non-positive sample counts or an empty target list.
  void validate() const;
};

/// Draws the calibration batches (the same for every pruner with the same options).
std::vector<model::Batch> calibrationBatches(const data::DataSource& data, const CalibrationOptions& options);

/// The blockwise calibration driver (design.md §2 step 4, spec-pruners.md §0): for each stack in
/// model order, the stack's block inputs are computed on the calibration batches through the
/// already-pruned earlier stacks; then per block: observe every target Linear in one dense pass,
/// prune all targets of the block, and re-run the block with pruned weights so the next block sees
/// pruned outputs. Targets outside any block are an error (they cannot be calibrated blockwise).
std::vector<store::LayerRecord> runBlockwise(model::Model& model, const std::vector<model::Batch>& calibration,
                                             const std::vector<model::LinearRef>& targets,
                                             const BlockwiseCallbacks& callbacks);

/// A whole blockwise pruning step: selects the targets (checking their weights are finite), draws
/// the calibration batches in a "calibrate" stage, then runs the driver in a "fine" stage. Targets
/// matching `settings.dump_inputs` get their weight (before pruning) as `weight` and every input
/// batch the driver showed them as `inputs.<i>` written to ctx.outputDir/layer_inputs/<name>.safetensors.
PruneResult pruneBlockwise(PruneContext& ctx, const BlockwiseSettings& settings, const BlockwiseCallbacks& callbacks);

}  // namespace prunelab::prune
