// Peak tensor memory of ECoFLaP's two coarse orders against Wanda on mini_blip2 as the model grows
// (issue 5: "show with larger model sizes how the ratio moves toward the paper's 8.93 GB vs 22.4
// GB"). Random weights (memory does not depend on training) and synthetic image-caption pairs;
// the vision and language blocks are the targets, the bridge kept, as the presets do.
//   wanda      blockwise Wanda on 128 samples in batches of 8 (the fine step of both ECoFLaPs);
//   zeroth     ECoFLaP zeroth order: coarse step on 32 samples in batches of 8, then Wanda;
//   first      ECoFLaP first order at the reference batch: 128 samples at batch 1, then Wanda;
//   first_b8   first order at the zeroth-order batch (32 samples in batches of 8), then Wanda.
// Each figure is the model's weights plus the peak of what the step allocated on top, as the
// Runner's memory/prune/peak_bytes (the CPU counterpart of torch.cuda.max_memory_allocated());
// a pipeline's peak is the larger of its coarse and fine peaks. Counters are MiB and the ratios
// zeroth/first and zeroth/wanda. The time column is the whole measurement, not a speed claim.
//   build/bench/prunelab_bench --benchmark_filter=MemoryOrders 2>/dev/null
#include <ATen/CPUGeneratorImpl.h>
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <algorithm>
#include <functional>

#include "framework/profile/MemoryTracker.h"
#include "framework/prune/BlockwiseDriver.h"
#include "framework/prune/CoarseScores.h"
#include "framework/prune/FineStep.h"
#include "framework/prune/Targets.h"
#include "models/mini_blip2/MiniBlip2.h"

namespace {

using prunelab::model::Batch;
using prunelab::models::MiniBlip2;
using prunelab::profile::MemoryTracker;

MiniBlip2 makeModel(std::int64_t dim) {
  MiniBlip2::Options o;
  o.vision_dim = o.lm_dim = o.bridge_dim = dim;
  o.vision_mlp_dim = o.lm_mlp_dim = 4 * dim;
  o.bridge_mlp_dim = 2 * dim;
  o.vision_heads = o.lm_heads = o.bridge_heads = static_cast<int>(std::max<std::int64_t>(1, dim / 32));
  MiniBlip2 m(o);
  m.build(0);
  m.setPromptWords(6, 7);
  m.module().eval();
  return m;
}

std::vector<Batch> pairs(std::int64_t samples, std::int64_t batchSize) {
  auto gen = at::detail::createCPUGenerator(3);
  std::vector<Batch> out;
  for (std::int64_t i = 0; i < samples / batchSize; ++i) {
    auto captions = torch::randint(8, 100, {batchSize, 14}, gen, torch::kInt64);
    captions.select(1, 0).fill_(2);
    captions.select(1, 13).fill_(3);
    out.push_back(Batch().set("images", torch::rand({batchSize, 1, 56, 56}, gen)).set("captions", captions));
  }
  return out;
}

std::int64_t weightBytes(MiniBlip2& m) {
  std::int64_t bytes = 0;
  for (const auto& p : m.module().parameters()) bytes += p.numel() * static_cast<std::int64_t>(p.element_size());
  return bytes;
}

// Weights + the peak of what `step` allocates (its calibration batches included) over the tensors
// alive before it.
double peakMiB(MiniBlip2& model, const std::function<void()>& step) {
  const std::int64_t before = MemoryTracker::currentBytes();
  MemoryTracker::resetPeak();
  step();
  return static_cast<double>(weightBytes(model) + MemoryTracker::peak().bytes - before) / (1024.0 * 1024.0);
}

void wanda(MiniBlip2& model) {
  const auto calibration = pairs(128, 8);
  const auto targets = prunelab::prune::selectTargets(model.linears(), {"*.blocks.*"}, {"bridge.*"});
  prunelab::prune::FineStepOptions fine;  // Wanda, per row, 50%
  prunelab::prune::BlockwiseCallbacks callbacks;
  callbacks.makeObserver = [&fine](const prunelab::model::LinearRef&) {
    return std::make_unique<prunelab::prune::InputStatsCollector>(fine);
  };
  callbacks.pruneLayer = [&fine](const prunelab::model::LinearRef& ref, prunelab::prune::LayerObserver* obs) {
    return prunelab::prune::pruneLayer(ref, static_cast<prunelab::prune::InputStatsCollector*>(obs)->stats(ref.name),
                                       fine);
  };
  prunelab::prune::runBlockwise(model, calibration, targets, callbacks);
}

void zeroth(MiniBlip2& model) {
  const auto batches = pairs(32, 8);
  const auto targets = prunelab::prune::selectTargets(model.linears(), {"*.blocks.*"}, {"bridge.*"});
  benchmark::DoNotOptimize(prunelab::prune::zerothOrderScores(model, batches, targets, {}).data());
}

void first(MiniBlip2& model, std::int64_t samples, std::int64_t batchSize) {
  const auto batches = pairs(samples, batchSize);
  const auto targets = prunelab::prune::selectTargets(model.linears(), {"*.blocks.*"}, {"bridge.*"});
  benchmark::DoNotOptimize(
      prunelab::prune::firstOrderScores(model, batches, targets, {/*meanAbs=*/true, /*meanSq=*/false}).gradient.data());
}

void BM_MemoryOrders(benchmark::State& state) {
  MemoryTracker::install();
  at::set_num_threads(1);
  const std::int64_t dim = state.range(0);
  double w = 0, z = 0, f = 0, f8 = 0, weights = 0;
  for (auto _ : state) {
    auto fresh = [dim] { return makeModel(dim); };
    auto m0 = fresh();
    weights = static_cast<double>(weightBytes(m0)) / (1024.0 * 1024.0);
    w = peakMiB(m0, [&] { wanda(m0); });
    auto m1 = fresh();
    z = std::max(peakMiB(m1, [&] { zeroth(m1); }), w);
    auto m2 = fresh();
    f = std::max(peakMiB(m2, [&] { first(m2, 128, 1); }), w);
    auto m3 = fresh();
    f8 = std::max(peakMiB(m3, [&] { first(m3, 32, 8); }), w);
  }
  state.counters["weights_MiB"] = weights;
  state.counters["wanda_MiB"] = w;
  state.counters["zeroth_MiB"] = z;
  state.counters["first_MiB"] = f;
  state.counters["first_b8_MiB"] = f8;
  state.counters["zeroth/first"] = z / f;
  state.counters["zeroth/first_b8"] = z / f8;
  state.counters["zeroth/wanda"] = z / w;
}
BENCHMARK(BM_MemoryOrders)->ArgName("dim")->Arg(128)->Arg(256)->Arg(512)->Iterations(1)->Unit(benchmark::kSecond);

}  // namespace
