// Per-row (Wanda) and N:M selection on a 4096x4096 score matrix, the size of a LLaMA-7B attention
// projection. BM_StableSortPerRow is the reference's way (torch.sort(S, dim=-1, stable=True), then
// prune the first int(in·s) columns of each row) and gives the same mask as BM_PerRowSelect, so
// the ratio of the two is the speedup of selecting without sorting (design.md §8).
// Scores are uniform random with a fixed seed; intra-op threads are pinned to the machine's cores.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <thread>

#include <torch/torch.h>

#include "framework/prune/RowSelection.h"

namespace {

constexpr std::int64_t kDim = 4096;
constexpr double kSparsity = 0.5;

void pinThreads(benchmark::State& state) {
  const int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(threads);
  state.counters["threads"] = threads;
}

const torch::Tensor& scores() {
  static const torch::Tensor s = [] {
    torch::manual_seed(0);
    return torch::rand({kDim, kDim});
  }();
  return s;
}

void BM_PerRowSelect(benchmark::State& state) {
  pinThreads(state);
  const auto& s = scores();
  for (auto _ : state) {
    auto keep = prunelab::prune::perRowMask(s, kSparsity);
    benchmark::DoNotOptimize(keep.data_ptr<bool>());
  }
  state.SetItemsProcessed(state.iterations() * kDim * kDim);
}
BENCHMARK(BM_PerRowSelect)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_StableSortPerRow(benchmark::State& state) {
  pinThreads(state);
  const auto& s = scores();
  const auto k = static_cast<std::int64_t>(static_cast<double>(kDim) * kSparsity);
  for (auto _ : state) {
    const auto order = std::get<1>(torch::sort(s, /*stable=*/true, /*dim=*/-1, /*descending=*/false));
    auto keep = torch::ones(s.sizes(), torch::kBool);
    keep.scatter_(1, order.slice(1, 0, k), false);
    benchmark::DoNotOptimize(keep.data_ptr<bool>());
  }
  state.SetItemsProcessed(state.iterations() * kDim * kDim);
}
BENCHMARK(BM_StableSortPerRow)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_NM_2_4(benchmark::State& state) {
  pinThreads(state);
  const auto& s = scores();
  for (auto _ : state) {
    auto keep = prunelab::prune::nmMask(s, 2, 4);
    benchmark::DoNotOptimize(keep.data_ptr<bool>());
  }
  state.SetItemsProcessed(state.iterations() * kDim * kDim);
}
BENCHMARK(BM_NM_2_4)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
