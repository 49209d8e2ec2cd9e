// SparseGPT on a 1024x1024 layer at 50% unstructured sparsity and at 2:4, with the reference's
// blocksize 128 and percdamp 0.01. The Hessian comes from 2048 correlated random input tokens
// (mixed, unequally scaled features, like transformer activations) and is built outside the timing.
// Fixed seeds; intra-op threads are pinned to the machine's cores.
// BM_SparseGptTensorOps_1024 is the baseline: SparseGPT's Algorithm 1 written as the reference
// writes it, one tensor op per step in LibTorch (per block: saliency, sort, threshold; per column:
// mask, error, rank-1 update of the rest of the block; per block: the lazy update of the columns
// after it). It checks its output against prunelab's each run (max_abs_diff counter).
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

// SparseGPT (Frantar & Alistarh 2023, Algorithm 1) with the reference's steps as plain tensor ops,
// unstructured, blocksize 128, percdamp 0.01. Returns the pruned weight.
torch::Tensor sparseGptTensorOps(torch::Tensor w, torch::Tensor h, double sparsity) {
  using torch::indexing::Slice;
  const std::int64_t cols = w.size(1), bs = 128;
  w = w.clone();
  h = h.clone();
  const auto dead = h.diagonal() == 0;
  h.diagonal().masked_fill_(dead, 1);
  w.index_put_({Slice(), dead}, 0);
  h.diagonal().add_(0.01 * h.diagonal().mean());
  auto hinv = torch::linalg_cholesky(torch::cholesky_inverse(torch::linalg_cholesky(h)), /*upper=*/true);
  for (std::int64_t i1 = 0; i1 < cols; i1 += bs) {
    const std::int64_t i2 = std::min(i1 + bs, cols), count = i2 - i1;
    auto w1 = w.index({Slice(), Slice(i1, i2)}).clone();
    auto q1 = torch::zeros_like(w1), err1 = torch::zeros_like(w1);
    auto hinv1 = hinv.index({Slice(i1, i2), Slice(i1, i2)});
    auto saliency = w1.pow(2) / hinv1.diagonal().reshape({1, -1}).pow(2);
    auto sorted = std::get<0>(torch::sort(saliency.flatten()));
    auto mask1 = saliency <= sorted[static_cast<std::int64_t>(static_cast<double>(saliency.numel()) * sparsity)];
    for (std::int64_t i = 0; i < count; ++i) {
      auto col = w1.select(1, i);
      auto q = col.masked_fill(mask1.select(1, i), 0);
      q1.select(1, i).copy_(q);
      auto e = (col - q) / hinv1[i][i];
      w1.index({Slice(), Slice(i)}).sub_(e.unsqueeze(1).matmul(hinv1[i].index({Slice(i)}).unsqueeze(0)));
      err1.select(1, i).copy_(e);
    }
    w.index_put_({Slice(), Slice(i1, i2)}, q1);
    w.index({Slice(), Slice(i2)}).sub_(err1.matmul(hinv.index({Slice(i1, i2), Slice(i2)})));
  }
  return w;
}

void BM_SparseGptTensorOps_1024(benchmark::State& state) {
  pinThreads(state);
  const auto& l = layer();
  torch::Tensor out;
  for (auto _ : state) {
    out = sparseGptTensorOps(l.weight, l.hessian, 0.5);
    benchmark::DoNotOptimize(out.data_ptr<float>());
  }
  const auto ours = prunelab::prune::sparseGptPrune(l.weight, l.hessian, prunelab::prune::SparseGptOptions{});
  state.counters["max_abs_diff"] = (ours.weight - out).abs().max().item<double>();
  state.counters["mask_mismatch"] = ((out == 0) != ours.keepMask.logical_not()).sum().item<double>();
}
BENCHMARK(BM_SparseGptTensorOps_1024)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
