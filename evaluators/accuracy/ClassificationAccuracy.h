#pragma once

#include <cstdint>
#include <string>

#include "framework/core/Error.h"
#include "framework/run/Evaluator.h"

namespace prunelab::evaluators {

/// Classification accuracy of a model with a ClassifierHead on a split whose batches hold the
/// model's inputs and "labels". Metrics (0-100): cls/<dataset>/<split>/acc (top-1), .../acc5 (top-5,
/// absent when there are fewer than 5 classes) and .../mean_per_class_recall.
class ClassificationAccuracy : public run::Evaluator {
 public:
  struct Options {
    std::string split = "test";
    std::int64_t batch_size = 512;
    std::int64_t limit = -1;

    template <class V>
    void visit(V& v) {
      v(split, "split", "data split to evaluate on");
      v(batch_size, "batch_size", "examples per model call");
      v(limit, "limit", "evaluate only the first N examples (-1 = all); such metrics are marked partial");
    }
    void validate() const {
      PL_CHECK(batch_size > 0, "batch_size must be positive, got {}", batch_size);
      PL_CHECK(limit == -1 || limit > 0, "limit must be -1 (all) or positive, got {}", limit);
    }
  };

  explicit ClassificationAccuracy(Options options) : options_(std::move(options)) {}
  std::string version() const override { return "accuracy-1"; }
  std::vector<store::MetricRecord> evaluate(run::EvalContext& ctx) override;

 private:
  Options options_;
};

}  // namespace prunelab::evaluators
