// ECoFLaP's zeroth-order coarse step (Σ|L(W+εz)−L(W−εz)|/2ε per matrix) on a residual MLP of
// 12 blocks (d = 256, fc1 d→4d, fc2 4d→d, 24 target matrices, 3.1M weights), with the reference's
// 32 calibration samples in batches of 8 (4 perturbations per matrix, 2 losses each).
//   BM_ZerothReference  the plain loop: a full forward per loss (spec §1.2);
//   BM_ZerothFast       only the blocks from the perturbed one on (cached block inputs);
//   BM_ZerothFastPaired the same, with the +ε and −ε suffixes in one forward of 2×8 rows.
// The BM_ZerothBlip2* variants run the same three modes on mini_blip2 at its default size (random
// weights: the time does not depend on training), its vision and language blocks as targets (32
// matrices, the bridge kept as the presets do), on 4 batches of 8 synthetic image-caption pairs.
// BM_ZerothBlip2FastGrouped also joins the ±ε pairs of up to 4 matrices of a block in one suffix
// forward (pruner.coarse.group=4). BM_ZerothBlip2Fast{Paired,Grouped}Threads (group 1 and 2) run
// the suffixes of a block's groups side by side on 2 threads (pruner.coarse.threads=2, OpenBLAS on
// one thread), against the reference at threads:0 (both cores, OpenBLAS's own two threads). On mini_blip2 a vision perturbation must still run the rest of
// the ViT, the Q-Former and the whole LM: counting multiply-adds of its default size, the suffixes
// are 59% of the full forwards, so no exact suffix reuse can pass about 1.7x (1.8x even if the
// unchanged start of the perturbed block were also skipped); the measured ratio is a little above
// that because the reference also redoes the patch embedding and the text preparation.
// All variants give the same scores (checked in tests/framework/prune/CoarseScoresTest.cpp); the
// ratios are the speedup of design.md §8's suffix reuse and ±ε batching. Noise is regenerated per
// matrix and batch in every variant, so its cost is in all of them. Fixed seeds. Progress lines go
// to stderr (2>/dev/null hides them).
#include <ATen/CPUGeneratorImpl.h>
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <algorithm>
#include <thread>

#include "framework/prune/CoarseScores.h"
#include "framework/prune/Targets.h"
#include "models/mini_blip2/MiniBlip2.h"

namespace {

constexpr int kDim = 256;
constexpr int kBlocks = 12;
constexpr int kBatches = 4;
constexpr int kBatchSize = 8;

// state.range(0) intra-op threads, 0 meaning one per core. One thread gives the steadier ratio on
// a shared machine (OpenMP's waiting threads suffer most from other load).
void pinThreads(benchmark::State& state) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = state.range(0) > 0 ? static_cast<int>(state.range(0)) : cores;
  at::set_num_threads(threads);
  state.counters["threads"] = threads;
}

// One stack "blocks" of residual MLP blocks h + fc2(gelu(fc1(h))); loss = mean(h²) at the end.
class ResidualMlp : public prunelab::model::Model {
 public:
  ResidualMlp() : root_(std::make_shared<torch::nn::Module>()) {
    torch::manual_seed(0);
    for (int i = 0; i < kBlocks; ++i) {
      fc1_.push_back(
          root_->register_module("fc1_" + std::to_string(i), prunelab::model::PrunableLinear(kDim, 4 * kDim)));
      fc2_.push_back(
          root_->register_module("fc2_" + std::to_string(i), prunelab::model::PrunableLinear(4 * kDim, kDim)));
    }
    root_->eval();
  }
  void prepare(const prunelab::model::ModelContext&) override {}
  std::vector<prunelab::model::StackInfo> stacks() const override { return {{"blocks", "language", kBlocks}}; }
  std::vector<prunelab::model::LinearRef> linears() override {
    std::vector<prunelab::model::LinearRef> out;
    for (int i = 0; i < kBlocks; ++i) {
      const std::string p = "blocks." + std::to_string(i) + ".mlp.";
      out.push_back({p + "fc1", "blocks", "language", i, fc1_[static_cast<std::size_t>(i)]});
      out.push_back({p + "fc2", "blocks", "language", i, fc2_[static_cast<std::size_t>(i)]});
    }
    return out;
  }
  torch::nn::Module& module() override { return *root_; }
  torch::Tensor loss(const prunelab::model::Batch& batch) override {
    return lossFromBlock("blocks", 0, stackInputs("blocks", batch), batch);
  }
  prunelab::model::Batch stackInputs(const std::string&, const prunelab::model::Batch& batch) override {
    prunelab::model::Batch s;
    s.set("hidden", batch.at("inputs"));
    return s;
  }
  prunelab::model::Batch forwardBlock(const std::string&, int block, const prunelab::model::Batch& state) override {
    const auto& h = state.at("hidden");
    const auto b = static_cast<std::size_t>(block);
    prunelab::model::Batch next;
    next.set("hidden", h + fc2_[b]->forward(torch::gelu(fc1_[b]->forward(h))));
    return next;
  }
  std::string weightsId() const override { return "bench"; }
  torch::Tensor lossFromBlock(const std::string& stack, int block, const prunelab::model::Batch& state,
                              const prunelab::model::Batch&) override {
    return output(block, state).pow(2).mean();
  }
  torch::Tensor lossesFromBlock(const std::string&, int block, const std::vector<prunelab::model::Batch>& states,
                                const prunelab::model::Batch&) override {
    std::vector<torch::Tensor> hidden;
    for (const auto& s : states) hidden.push_back(s.at("hidden"));
    prunelab::model::Batch joined;
    joined.set("hidden", torch::cat(hidden, 0));
    return output(block, joined).pow(2).reshape({static_cast<std::int64_t>(states.size()), -1}).mean(1);
  }

 private:
  torch::Tensor output(int block, prunelab::model::Batch state) {
    for (int i = block; i < kBlocks; ++i) state = forwardBlock("blocks", i, state);
    return state.at("hidden");
  }
  std::shared_ptr<torch::nn::Module> root_;
  std::vector<prunelab::model::PrunableLinear> fc1_, fc2_;
};

std::vector<prunelab::model::Batch> batches() {
  auto gen = at::detail::createCPUGenerator(1);
  std::vector<prunelab::model::Batch> out;
  for (int i = 0; i < kBatches; ++i) {
    prunelab::model::Batch b;
    b.set("inputs", torch::randn({kBatchSize, kDim}, gen, torch::kFloat));
    out.push_back(b);
  }
  return out;
}

// The timed loop both models share: the scores of every target, in the given mode.
void timeScores(benchmark::State& state, prunelab::model::Model& model, const std::vector<prunelab::model::Batch>& data,
                const std::vector<prunelab::model::LinearRef>& targets, bool fast, bool pair, int group,
                int suffixThreads) {
  prunelab::prune::ZerothOrderOptions o;
  o.fast = fast;
  o.pair = pair;
  o.group = group;
  o.threads = suffixThreads;
  state.counters["group"] = group;
  state.counters["suffix_threads"] = suffixThreads;
  for (auto _ : state) {
    auto scores = prunelab::prune::zerothOrderScores(model, data, targets, o);
    benchmark::DoNotOptimize(scores.data());
  }
  state.counters["targets"] = static_cast<double>(targets.size());
  state.counters["perturbations"] = static_cast<double>(targets.size() * data.size());
}

void runZeroth(benchmark::State& state, bool fast, bool pair, int group = 1, int suffixThreads = 1) {
  pinThreads(state);
  ResidualMlp model;
  timeScores(state, model, batches(), model.linears(), fast, pair, group, suffixThreads);
}

// mini_blip2 at its default size; 4 batches of 8 images with 12-word captions ([BOS] w.. [EOS]).
void runZerothBlip2(benchmark::State& state, bool fast, bool pair, int group = 1, int suffixThreads = 1) {
  pinThreads(state);
  prunelab::models::MiniBlip2 model{prunelab::models::MiniBlip2::Options{}};
  model.build(0);
  model.setPromptWords(6, 7);
  model.module().eval();
  auto gen = at::detail::createCPUGenerator(1);
  std::vector<prunelab::model::Batch> data;
  for (int i = 0; i < kBatches; ++i) {
    auto captions = torch::randint(8, 100, {kBatchSize, 14}, gen, torch::kInt64);
    captions.select(1, 0).fill_(2);
    captions.select(1, 13).fill_(3);
    data.push_back(prunelab::model::Batch()
                       .set("images", torch::rand({kBatchSize, 1, 56, 56}, gen))
                       .set("captions", captions));
  }
  timeScores(state, model, data, prunelab::prune::selectTargets(model.linears(), {"*.blocks.*"}, {"bridge.*"}), fast,
             pair, group, suffixThreads);
}

void BM_ZerothBlip2Reference(benchmark::State& state) { runZerothBlip2(state, false, false); }
void BM_ZerothBlip2Fast(benchmark::State& state) { runZerothBlip2(state, true, false); }
void BM_ZerothBlip2FastPaired(benchmark::State& state) { runZerothBlip2(state, true, true); }
void BM_ZerothBlip2FastGrouped(benchmark::State& state) { runZerothBlip2(state, true, true, 4); }
void BM_ZerothBlip2FastPairedThreads(benchmark::State& state) { runZerothBlip2(state, true, true, 1, 2); }
void BM_ZerothBlip2FastGroupedThreads(benchmark::State& state) { runZerothBlip2(state, true, true, 2, 2); }
BENCHMARK(BM_ZerothBlip2Reference)->ArgName("threads")->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ZerothBlip2Fast)->ArgName("threads")->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ZerothBlip2FastPaired)->ArgName("threads")->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ZerothBlip2FastGrouped)->ArgName("threads")->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ZerothBlip2FastPairedThreads)->ArgName("threads")->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ZerothBlip2FastGroupedThreads)->ArgName("threads")->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ZerothReference(benchmark::State& state) { runZeroth(state, false, false); }
void BM_ZerothFast(benchmark::State& state) { runZeroth(state, true, false); }
void BM_ZerothFastPaired(benchmark::State& state) { runZeroth(state, true, true); }
BENCHMARK(BM_ZerothReference)->ArgName("threads")->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ZerothFast)->ArgName("threads")->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ZerothFastPaired)->ArgName("threads")->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
