#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "framework/data/Dataset.h"
#include "framework/model/Model.h"
#include "framework/store/RunStore.h"

namespace prunelab::run {

/// What an evaluator works with: the (pruned) model, the run's data, the seed and the run's folder.
struct EvalContext {
  model::Model& model;
  data::DataSource& data;
  std::int64_t seed = 0;
  /// The run's output folder, for files an evaluator writes (predictions); empty outside a run.
  std::filesystem::path outputDir = {};
};

/// An evaluation task (plugin). Metric keys follow task/dataset/split/metric; values stay in the
/// reference tool's units.
class Evaluator {
 public:
  virtual ~Evaluator() = default;
  /// Version of the metric code: bump when the numbers it produces would change.
  virtual std::string version() const = 0;
  /// Evaluates and returns the metrics (the Runner stamps the version on each).
  virtual std::vector<store::MetricRecord> evaluate(EvalContext& ctx) = 0;
};

}  // namespace prunelab::run
