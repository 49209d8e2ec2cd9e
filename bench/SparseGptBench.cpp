// SparseGPT on a 1024x1024 layer at 50% unstructured sparsity and at 2:4, with the reference's
// blocksize 128 and percdamp 0.01. The Hessian comes from 2048 correlated random input tokens
// (mixed, unequally scaled features, like transformer activations) and is built outside the timing.
// Fixed seeds; intra-op threads are pinned to the machine's cores.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <thread>

#include <torch/torch.h>

#include "framework/prune/SparseGpt.h"

namespace {

constexpr std::int64_t kDim = 1024;
constexpr std::int64_t kTokens = 2048;

void pinThreads(benchmark::State& state) {
  const int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(threads);
  state.counters["threads"] = threads;
}

struct Layer {
  torch::Tensor weight, hessian;
};

const Layer& layer() {
  static const Layer l = [] {
    torch::manual_seed(0);
    const auto mixing = torch::eye(kDim) + torch::randn({kDim, kDim}) / std::sqrt(static_cast<double>(kDim));
    const auto x = torch::randn({kTokens, kDim}).matmul(mixing) * torch::exp(torch::randn({kDim}));
    prunelab::prune::HessianAccumulator acc;
    acc.add(x.unsqueeze(0));
    return Layer{torch::randn({kDim, kDim}), acc.h};
  }();
  return l;
}

void runSparseGpt(benchmark::State& state, const prunelab::prune::SparseGptOptions& options) {
  pinThreads(state);
  const auto& l = layer();
  for (auto _ : state) {
    auto result = prunelab::prune::sparseGptPrune(l.weight, l.hessian, options);
    benchmark::DoNotOptimize(result.weight.data_ptr<float>());
  }
}

void BM_SparseGpt_1024(benchmark::State& state) { runSparseGpt(state, prunelab::prune::SparseGptOptions{}); }
BENCHMARK(BM_SparseGpt_1024)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SparseGpt_1024_NM_2_4(benchmark::State& state) {
  prunelab::prune::SparseGptOptions options;
  options.prunen = 2;
  options.prunem = 4;
  runSparseGpt(state, options);
}
BENCHMARK(BM_SparseGpt_1024_NM_2_4)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
