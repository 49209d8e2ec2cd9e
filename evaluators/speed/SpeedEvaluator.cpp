#include "evaluators/speed/SpeedEvaluator.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "framework/core/Progress.h"
#include "framework/data/Dataset.h"

#ifdef PRUNELAB_CUDA
#include <torch/cuda.h>
#endif

namespace prunelab::evaluators {

namespace {

// Waits for queued device work, so a timed call ends when its kernels do (CUDA builds only).
void synchronize(const torch::Device& device) {
#ifdef PRUNELAB_CUDA
  if (device.is_cuda()) torch::cuda::synchronize();
#else
  (void)device;
#endif
}

}  // namespace

std::vector<store::MetricRecord> SpeedEvaluator::evaluate(run::EvalContext& ctx) {
  const auto& o = options_;
  auto split = ctx.data.split(o.split);
  PL_CHECK(split->size() >= o.batch_size,
           "speed: split '{}' has {} examples, fewer than batch_size {}: lower speed.batch_size", o.split,
           split->size(), o.batch_size);
  const std::int64_t numBatches = std::min(o.batches, split->size() / o.batch_size);
  data::BatchSampler sampler(*split, o.batch_size);
  std::vector<model::Batch> batches;
  for (std::int64_t b = 0; b < numBatches; ++b) batches.push_back(sampler.batch(b));

  auto& module = ctx.model.module();
  std::int64_t params = 0, nonzero = 0, bytes = 0;
  torch::Device device(torch::kCPU);
  {
    torch::NoGradGuard noGrad;
    for (const auto& p : module.parameters()) {
      params += p.numel();
      nonzero += p.ne(0).sum().item<std::int64_t>();
      bytes += p.numel() * static_cast<std::int64_t>(p.element_size());
      device = p.device();
    }
  }

  module.eval();
  torch::NoGradGuard noGrad;
  using Clock = std::chrono::steady_clock;
  std::vector<double> ms;
  Progress progress(fmt::format("time the model on {} batches of {}", numBatches, o.batch_size), o.warmup + o.repeats,
                    "call");
  for (std::int64_t i = 0; i < o.warmup + o.repeats; ++i) {
    const auto& batch = batches[static_cast<std::size_t>(i % numBatches)];
    synchronize(device);
    const auto start = Clock::now();
    const auto loss = ctx.model.loss(batch);
    synchronize(device);
    const auto end = Clock::now();
    PL_CHECK(loss.defined(), "speed: the model's loss returned nothing");
    if (i >= o.warmup) ms.push_back(std::chrono::duration<double, std::milli>(end - start).count());
    progress.advance();
  }
  progress.finish();
  std::sort(ms.begin(), ms.end());
  const std::size_t n = ms.size();
  const double median = n % 2 == 1 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);

  const std::string prefix = "speed/" + ctx.data.name() + "/" + o.split + "/";
  return {{prefix + "latency_ms", median, 0, ""},
          {prefix + "latency_min_ms", ms.front(), 0, ""},
          {prefix + "latency_max_ms", ms.back(), 0, ""},
          {prefix + "throughput", static_cast<double>(o.batch_size) * 1000.0 / median, 0, ""},
          {prefix + "batch_size", static_cast<double>(o.batch_size), 0, ""},
          {prefix + "params", static_cast<double>(params), 0, ""},
          {prefix + "nonzero_params", static_cast<double>(nonzero), 0, ""},
          {prefix + "param_bytes", static_cast<double>(bytes), 0, ""}};
}

}  // namespace prunelab::evaluators
