#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "framework/data/Dataset.h"
#include "framework/model/Model.h"
#include "framework/profile/Profiler.h"
#include "framework/store/RunStore.h"

namespace prunelab::prune {

/// What a pruner works with: the prepared model, the run's data, the profiler (one stage per
/// pruning step: calibrate, allocate, prune), the run seed, and the run's output folder (for
/// files a pruner writes on request, e.g. dumped layer inputs; empty: write nothing).
struct PruneContext {
  model::Model& model;
  data::DataSource& data;
  profile::Profiler& profiler;
  std::int64_t seed = 0;
  std::filesystem::path outputDir = {};
};

/// What a pruner reports: per pruned matrix, target and achieved sparsity (the layers table),
/// plus any extra metrics (e.g. allocated per-block sparsity, coarse scores).
struct PruneResult {
  std::vector<store::LayerRecord> layers;
  std::vector<store::MetricRecord> metrics;
};

/// A pruning method (plugin). Post-training pruners change the model's weights in place.
class Pruner {
 public:
  virtual ~Pruner() = default;
  /// Checks, before the model is prepared (trained or loaded), that this pruner can work on it,
  /// from what its options say (e.g. the interfaces it implements, its task); throws with the fix.
  /// The default accepts any model.
  virtual void checkModel(const model::Model& /*model*/) const {}
  /// Prunes ctx.model; throws prunelab::Error on bad input (the run is then FAILED).
  virtual PruneResult prune(PruneContext& ctx) = 0;
};

}  // namespace prunelab::prune
