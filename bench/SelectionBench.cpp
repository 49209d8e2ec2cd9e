// Per-row (Wanda) and N:M selection on a 4096x4096 score matrix, the size of a LLaMA-7B attention
// projection. BM_StableSortPerRow is the reference's way (torch.sort(S, dim=-1, stable=True), then
// prune the first int(in·s) columns of each row) and gives the same mask as BM_PerRowSelect, so
// the ratio of the two is the speedup of selecting without sorting (design.md §8).
// Scores are uniform random with a fixed seed; intra-op threads are pinned to the machine's cores.
//
// BM_GlobalThreshold / BM_ConcatKthvalue: the threshold of one global ranking over 50.3M scores
// (12 matrices of 4096x1024, a "model" of 201 MB in fp32) at 50%, by prunelab's chunked radix
// histogram and by the reference's way (concatenate every score, then kthvalue). Both find the
// same value (checked each iteration). Counters: extra_MB is the peak of the tensors the selection
// allocated over the scores it ranks (tracking allocator), extra_of_model that peak over the
// model's size. The radix search reads each matrix through views and keeps two 65536-entry
// histograms (1 MiB of plain vectors, not tensors, so not in the counter).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <thread>

#include <torch/torch.h>

#include "framework/profile/MemoryTracker.h"
#include "framework/prune/RowSelection.h"
#include "framework/prune/Selection.h"

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

constexpr int kMatrices = 12;

const std::vector<torch::Tensor>& modelScores() {
  static const std::vector<torch::Tensor> all = [] {
    prunelab::profile::MemoryTracker::install();
    torch::manual_seed(1);
    std::vector<torch::Tensor> out;
    for (int i = 0; i < kMatrices; ++i) out.push_back(torch::rand({kDim, 1024}));
    return out;
  }();
  return all;
}

double modelBytes() { return static_cast<double>(kMatrices) * kDim * 1024 * 4; }

float chunkedThreshold() {
  std::vector<prunelab::prune::ScoreSource> sources;
  for (const auto& t : modelScores())
    sources.push_back({"m", t.numel(), [t](std::int64_t b, std::int64_t e) { return t.reshape({-1}).slice(0, b, e); }});
  return prunelab::prune::findGlobalThreshold(sources, kSparsity).value;
}

float concatThreshold() {
  std::vector<torch::Tensor> flat;
  for (const auto& t : modelScores()) flat.push_back(t.reshape({-1}));
  auto all = torch::cat(flat);
  const auto k = static_cast<std::int64_t>(std::llround(kSparsity * static_cast<double>(all.numel())));
  return std::get<0>(all.kthvalue(k)).item<float>();
}

void runThreshold(benchmark::State& state, float (*select)()) {
  pinThreads(state);
  modelScores();
  const float expected = concatThreshold();
  using prunelab::profile::MemoryTracker;
  double extra = 0;
  for (auto _ : state) {
    const auto before = MemoryTracker::currentBytes();
    MemoryTracker::resetPeak();
    const float value = select();
    extra = std::max(extra, static_cast<double>(MemoryTracker::peak().bytes - before));
    if (value != expected) state.SkipWithError("the two selections disagree on the threshold");
  }
  state.counters["extra_MB"] = extra / 1e6;
  state.counters["extra_of_model"] = extra / modelBytes();
  state.SetItemsProcessed(state.iterations() * kMatrices * kDim * 1024);
}

void BM_GlobalThreshold(benchmark::State& state) { runThreshold(state, chunkedThreshold); }
void BM_ConcatKthvalue(benchmark::State& state) { runThreshold(state, concatThreshold); }
BENCHMARK(BM_GlobalThreshold)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ConcatKthvalue)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
