// Forward time of a transformer stack at a small-VLM size (ViT-S-like: width 384, 6 heads of 64,
// MLP 1536, 6 blocks) on 4 sequences of 64 tokens (tens of ms per forward on one thread), dense vs
// physically pruned with EfficientVLM's structured removal at 50% of the prunable (head + FFN)
// parameters: every block keeps the even-numbered heads and neurons (a fixed choice; which
// ones does not change the cost). Same inputs, no autograd (NoGradGuard), eval mode. Counters:
// parameters of the stack and tokens per second. state.range(0) intra-op threads, 0 meaning one
// per core; compare dense and pruned at the same thread count.
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

constexpr std::int64_t kDim = 384, kHeads = 6, kMlp = 1536, kDepth = 6, kBatch = 4, kTokens = 64;

void pinThreads(benchmark::State& state) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = state.range(0) > 0 ? static_cast<int>(state.range(0)) : cores;
  at::set_num_threads(threads);
  state.counters["threads"] = threads;
}

// Both stacks go through pruneStack (the dense one keeps everything), so both processes free the
// same large weight tensors before timing: glibc raises its mmap threshold on such frees, and
// without them the dense stack's activations were mmapped and page-faulted afresh every forward
// (~5k minor faults per forward, about half its time on a loaded machine).
TransformerStack makeStack(bool pruned) {
  TransformerStack stack(StackOptions("vision", "vision", kDepth, BlockOptions(kDim, kHeads).mlpDim(kMlp)).seed(0));
  BlockKeep keep;
  for (std::int64_t h = 0; h < kHeads; h += pruned ? 2 : 1) keep.heads.push_back(h);
  for (std::int64_t n = 0; n < kMlp; n += pruned ? 2 : 1) keep.neurons.push_back(n);
  prunelab::models::pruneStack(stack, std::vector<BlockKeep>(kDepth, keep));
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
  state.counters["tokens/s"] = benchmark::Counter(
      static_cast<double>(kBatch * kTokens) * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_StructuredDense(benchmark::State& state) { runStack(state, false); }
void BM_StructuredPruned50(benchmark::State& state) { runStack(state, true); }
BENCHMARK(BM_StructuredDense)->ArgName("threads")->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_StructuredPruned50)->ArgName("threads")->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
