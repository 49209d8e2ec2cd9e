// Forward time of a transformer stack at a small-VLM size (ViT-S-like: width 384, 6 heads of 64,
// MLP 1536, 6 blocks) on 8 sequences of 64 tokens, dense vs physically pruned with EfficientVLM's
// structured removal at 50% of the prunable (head + FFN) parameters: every block keeps heads 0-2
// and the even-numbered neurons (a fixed choice; which ones does not change the cost). Same inputs,
// no autograd (NoGradGuard), eval mode. Counters: parameters of the stack and tokens per second.
// state.range(0) intra-op threads, 0 meaning one per core. Compare the two at the same thread count.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <thread>

#include <torch/torch.h>

#include "models/transformer/StructuredPrune.h"

namespace {

using prunelab::models::BlockKeep;
using prunelab::models::BlockOptions;
using prunelab::models::StackOptions;
using prunelab::models::StackState;
using prunelab::models::TransformerStack;

constexpr std::int64_t kDim = 384, kHeads = 6, kMlp = 1536, kDepth = 6, kBatch = 8, kTokens = 64;

void pinThreads(benchmark::State& state) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = state.range(0) > 0 ? static_cast<int>(state.range(0)) : cores;
  at::set_num_threads(threads);
  state.counters["threads"] = threads;
}

TransformerStack makeStack(bool pruned) {
  TransformerStack stack(StackOptions("vision", "vision", kDepth, BlockOptions(kDim, kHeads).mlpDim(kMlp)).seed(0));
  if (pruned) {
    BlockKeep keep;
    for (std::int64_t h = 0; h < kHeads / 2; ++h) keep.heads.push_back(h);
    for (std::int64_t n = 0; n < kMlp; n += 2) keep.neurons.push_back(n);
    prunelab::models::pruneStack(stack, std::vector<BlockKeep>(kDepth, keep));
  }
  stack->eval();
  return stack;
}

void runStack(benchmark::State& state, bool pruned) {
  pinThreads(state);
  auto stack = makeStack(pruned);
  torch::manual_seed(0);
  prunelab::model::Batch input;
  input.set(StackState::kHidden, torch::randn({kBatch, kTokens, kDim}));
  torch::NoGradGuard noGrad;
  for (auto _ : state) {
    auto out = stack->forward(input).at(StackState::kHidden);
    benchmark::DoNotOptimize(out.data_ptr<float>());
  }
  std::int64_t params = 0;
  for (const auto& p : stack->parameters()) params += p.numel();
  state.counters["params"] = static_cast<double>(params);
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(kBatch * kTokens) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}

void BM_StructuredDense(benchmark::State& state) { runStack(state, false); }
void BM_StructuredPruned50(benchmark::State& state) { runStack(state, true); }
BENCHMARK(BM_StructuredDense)->ArgName("threads")->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_StructuredPruned50)->ArgName("threads")->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
