#pragma once

#include <cstdint>
#include <string>

#include "evaluators/metrics/EvaluatorVersions.h"
#include "framework/core/Error.h"
#include "framework/run/Evaluator.h"

namespace prunelab::evaluators {

/// Inference speed and size of the (pruned) model, recorded with every run that asks for it, so a
/// table can put accuracy beside latency and parameters.
///
/// Timing: the model's forward and loss (Model::loss, no gradients, eval mode) on fixed batches
/// of `batch_size` examples of `split` (the first ones, so every run times the same inputs), on
/// the run's threads: `warmup` untimed calls, then `repeats` timed calls cycling over `batches`
/// batches. latency_ms is the median of the timed calls (robust to a noisy machine), with min and
/// max beside it; throughput = batch_size / median. On a CUDA model each call is synchronised.
/// Model::loss runs the whole network (for mini_blip2: vision, Q-Former and the LM on a caption),
/// which is what a structurally smaller model speeds up; unstructured zeros do not (dense kernels).
///
/// Size: params = every parameter entry of the module; nonzero_params = those not exactly 0
/// (what unstructured pruning changes); param_bytes = params × element size.
/// Metrics under speed/<dataset>/<split>/: latency_ms, latency_min_ms, latency_max_ms,
/// throughput (examples/s), batch_size, params, nonzero_params, param_bytes.
class SpeedEvaluator : public run::Evaluator {
 public:
  struct Options {
    std::string split = "test";
    std::int64_t batch_size = 32;
    std::int64_t batches = 4;
    std::int64_t warmup = 3;
    std::int64_t repeats = 20;

    template <class V>
    void visit(V& v) {
      v(split, "split", "split whose first batches are timed (their fields must suit Model::loss)");
      v(batch_size, "batch_size", "examples per timed call");
      v(batches, "batches", "distinct batches the timed calls cycle over");
      v(warmup, "warmup", "untimed calls first (allocator and thread-pool warm-up)");
      v(repeats, "repeats", "timed calls; latency_ms is their median");
    }
    void validate() const {
      PL_CHECK(batch_size > 0, "speed: batch_size must be positive, got {}", batch_size);
      PL_CHECK(batches > 0, "speed: batches must be positive, got {}", batches);
      PL_CHECK(warmup >= 0, "speed: warmup must be >= 0, got {}", warmup);
      PL_CHECK(repeats > 0, "speed: repeats must be positive, got {} (the median needs at least one call)", repeats);
    }
  };

  explicit SpeedEvaluator(Options options) : options_(std::move(options)) {}
  std::string version() const override { return kSpeedEvaluatorVersion; }
  std::vector<store::MetricRecord> evaluate(run::EvalContext& ctx) override;

 private:
  Options options_;
};

}  // namespace prunelab::evaluators
